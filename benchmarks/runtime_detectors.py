"""Snapshot the lists of blocking calls that two runtime detectors patch in production, read from
their wheels' source with `ast` (nothing is imported or run):

- Home Assistant's `homeassistant/block_async_io.py`: the `BlockingCall(object=..., function=...)`
  entries of `_BLOCKING_CALLS`, with their `check_allowed` condition and `strict` flag;
- blockbuster's `blockbuster/blockbuster.py`: the keys of the `BlockBusterFunction` tables
  (`"os.stat"`, `f"socket.socket.{method}" ... for method in (...)`), with their
  `can_block_predicate` condition and whether library frames may block (`can_block_functions`).

    pip download --no-deps --python-version 3.13 --only-binary=:all: homeassistant==2025.4.4 -d W
    pip download --no-deps blockbuster==1.5.29 -d W
    python -m benchmarks.runtime_detectors W/homeassistant-*.whl W/blockbuster-*.whl \\
        > tests/data/runtime-detectors.json

tests/test_blocking.py proves rules/blocking/calls.toml a superset of the snapshot.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

SOURCES = {"homeassistant": "homeassistant/block_async_io.py", "blockbuster": "blockbuster/blockbuster.py"}
WHEEL = re.compile(r"(?P<name>[A-Za-z0-9_]+)-(?P<version>[^-]+)-")


def _keyword(call: ast.Call, name: str) -> Optional[ast.expr]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _imported(tree: ast.Module) -> Dict[str, str]:
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def home_assistant(tree: ast.Module) -> List[Dict[str, Any]]:
    imported = _imported(tree)
    entries = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "BlockingCall":
            owner = ast.unparse(_keyword(node, "object"))
            function = ast.literal_eval(_keyword(node, "function"))
            check = _keyword(node, "check_allowed")
            entries.append({
                "name": f"{imported.get(owner, owner)}.{function}",
                "condition": None if check is None or ast.unparse(check) == "None" else ast.unparse(check),
                "strict": ast.literal_eval(_keyword(node, "strict")),
            })
    return entries


def _keys(key: ast.expr, loops: Dict[str, List[str]]) -> Iterator[str]:
    """`"os.stat"` -> os.stat; `f"os.{method}"` inside `for method in ("a", "b")` -> os.a, os.b."""
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        yield key.value
    elif isinstance(key, ast.JoinedStr):
        parts = key.values
        variable = next(ast.unparse(p.value) for p in parts if isinstance(p, ast.FormattedValue))
        for value in loops[variable]:
            yield "".join(p.value if isinstance(p, ast.Constant) else value for p in parts)


def _loop_values(target: ast.expr, iterable: ast.expr) -> Dict[str, List[str]]:
    if isinstance(target, ast.Name) and isinstance(iterable, ast.Tuple):
        return {target.id: [ast.literal_eval(e) for e in iterable.elts]}
    return {}


def _tables(node: ast.AST, loops: Dict[str, List[str]]) -> Iterator[Tuple[ast.expr, ast.expr, Dict[str, List[str]]]]:
    """(key, value, loop variables in scope) of every dict entry and `table[key] = value`."""
    if isinstance(node, ast.For):
        loops = {**loops, **_loop_values(node.target, node.iter)}
    elif isinstance(node, ast.DictComp):
        scoped = dict(loops)
        for generator in node.generators:
            scoped.update(_loop_values(generator.target, generator.iter))
        yield node.key, node.value, scoped
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if key is not None:
                yield key, value, loops
    elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
        yield node.targets[0].slice, node.value, loops
    for child in ast.iter_child_nodes(node):
        yield from _tables(child, loops)


def blockbuster(tree: ast.Module) -> List[Dict[str, Any]]:
    entries = []
    for key, value, loops in _tables(tree, {}):
        if not (isinstance(value, ast.Call) and ast.unparse(value.func) == "BlockBusterFunction"):
            continue
        predicate = _keyword(value, "can_block_predicate")
        if predicate is None and any(k.arg is None for k in value.keywords):  # **os_rw_kwargs
            predicate = ast.Name("os_rw_exclude")
        frames = _keyword(value, "can_block_functions")
        for name in _keys(key, loops):
            entries.append({
                "name": name,
                "condition": None if predicate is None else ast.unparse(predicate),
                "library_frames_may_block": frames is not None and ast.unparse(frames) != "None",
            })
    return sorted(entries, key=lambda e: e["name"])


def snapshot(wheel: Path) -> Dict[str, Any]:
    match = WHEEL.match(wheel.name)
    if match is None:
        raise SystemExit(f"{wheel}: not a wheel name")
    project = match.group("name").lower()
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(SOURCES[project]).decode("utf-8")
    tree = ast.parse(text)
    return {
        "project": project,
        "version": match.group("version"),
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "file": SOURCES[project],
        "file_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "calls": home_assistant(tree) if project == "homeassistant" else blockbuster(tree),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", nargs="+", type=Path, help="homeassistant and blockbuster wheels")
    args = parser.parse_args(argv)
    data = {"note": "Made by `python -m benchmarks.runtime_detectors WHEEL...` (see its docstring): "
                    "names as each detector spells them; `condition` is the function that lets a call pass.",
            "detectors": [snapshot(w) for w in args.wheels]}
    json.dump(data, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
