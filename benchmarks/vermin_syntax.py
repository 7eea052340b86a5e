"""ARV103 against vermin's syntax detection: which Python a construct or a file needs.

Two comparisons, both printed and written as JSON:

- per construct: the `example` of every rules/compat/syntax.toml entry. ARV103's answer is the
  lowest target it stops reporting at; vermin's is the minimum version it reports for the
  snippet (it parses with the running Python's `ast`, so it cannot read syntax newer than that),
  the lowest `feature_version` at which the running Python's `ast.parse` accepts it;
  with `--interpreters DIR` (folders holding bin/python, e.g. ~/.pyenv/versions), real CPythons
  give the ground truth: the first one that compiles the snippet.
- per line of real files (default: the benchmark corpus, benchmarks/corpus.py): the lines where
  ARV103 (target 3.7) reports a construct, and the lines for which vermin names a language feature
  that needs 3.8 or newer (its reasons that name no module, member or function). Lines both name
  (within five lines: vermin names a statement's first line), lines only one names, by feature,
  and the files vermin cannot parse.

Usage::

    python -m benchmarks.vermin_syntax [--corpus DIR] [--limit N] [--interpreters DIR] [--json-out F]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from asyncreview.checks.compat import VersionCompat, _tables
from asyncreview.config import format_version, parse_version
from asyncreview.engine import analyze
from asyncreview.testing import settings_for

TARGETS = [f"3.{minor}" for minor in range(7, 15)]
_NEAR = 5  # lines between vermin's line and ARV103's that still name the same construct
# vermin reasons about typing features (typing.Final, typing.Literal): no SyntaxError anywhere.
_TYPING = ("final variable annotations", "literal variable annotations")
_VERMIN_REASON = re.compile(r"^L(\d+)(?: C\d+)?: (.+?) requires? (.+)$")


def _syntax_table() -> Dict[str, Dict[str, Any]]:
    return _tables(settings_for([VersionCompat], target="3.7"))["syntax"]


def arv103_lines(text: str, target: str = "3.7") -> Dict[int, Tuple[str, str]]:
    """{line: (construct, version)} for every ARV103 finding, the construct named as the table does."""
    table = _syntax_table()
    names = {entry["what"][1:]: (key, entry["added"]) for key, entry in table.items()}
    settings = _settings(target)
    found = {}
    for finding in analyze(text.encode("utf-8"), settings, [VersionCompat]).findings:
        if finding.code == "ARV103":
            for what, named in names.items():
                if what in finding.message:
                    found[finding.line] = named
    return found


_SETTINGS: Dict[str, Any] = {}


def _settings(target: str) -> Any:
    if target not in _SETTINGS:
        _SETTINGS[target] = settings_for([VersionCompat], target=target)
    return _SETTINGS[target]


def arv103_version(source: str) -> str:
    """The lowest target at which ARV103 reports nothing in `source`."""
    for target in TARGETS:
        if not arv103_lines(source, target):
            return target
    return "never"


def vermin_reasons(text: str) -> Tuple[Optional[List[Tuple[int, str, str]]], str]:
    """([(line, feature, version)] of vermin's syntax reasons, or None when its `ast` cannot parse
    the file; what it printed). On a syntax error vermin still names a few constructs (`type X =`)
    from the error, in what it prints."""
    import vermin

    config = vermin.Config()
    config.set_verbose(3)
    config.set_ignore_incomp(True)
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.simplefilter("ignore")
        visitor = vermin.visit(text, config)
    if isinstance(visitor, list):  # vermin's answer for a file its `ast` cannot parse
        return None, printed.getvalue()
    reasons = []
    for line in visitor.output_text().splitlines():
        match = _VERMIN_REASON.match(line.strip())
        if not match or match.group(2).startswith(("'", '"')):
            continue  # modules, members, functions and keyword arguments: not syntax
        versions = [part.strip() for part in match.group(3).split(",")]
        python3 = next((v for v in versions if v.startswith("3.")), None)
        if python3:
            reasons.append((int(match.group(1)), match.group(2), python3))
    return reasons, printed.getvalue()


def vermin_version(source: str) -> str:
    reasons, printed = vermin_reasons(source)
    if reasons is None:
        named = re.search(r"requires? !2, (3\.\d+)", printed)
        return f"{named.group(1)} (error)" if named else "cannot parse"
    versions = [parse_version(version) for _, _, version in reasons]
    return format_version(max(versions)) if versions else "3.0"


def ast_version(source: str) -> str:
    """The lowest `feature_version` at which the running Python's `ast.parse` accepts `source`."""
    for minor in range(7, sys.version_info[1] + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source, feature_version=(3, minor))
        except SyntaxError:
            continue
        return f"3.{minor}"
    return "cannot parse"


def cpython_version(source: str, interpreters: Sequence[Tuple[str, Path]]) -> str:
    for version, python in interpreters:
        checked = subprocess.run([str(python), "-W", "ignore", "-c", "import sys; compile(sys.stdin.read(), 'x', 'exec')"],
                                 input=source, capture_output=True, text=True)
        if checked.returncode == 0:
            return version
    return f"none of {interpreters[0][0]}-{interpreters[-1][0]}" if interpreters else "-"


def find_interpreters(folder: Optional[Path]) -> List[Tuple[str, Path]]:
    """(3.N, bin/python) for each CPython 3.7+ below `folder`, oldest first."""
    found = {}
    for python in sorted(folder.glob("*/bin/python")) if folder else []:
        match = re.match(r"^3\.(\d+)", python.parent.parent.name)
        if match and int(match.group(1)) >= 7:
            found[f"3.{match.group(1)}"] = python
    return sorted(found.items(), key=lambda item: parse_version(item[0]))


def compare_constructs(interpreters: Sequence[Tuple[str, Path]]) -> List[Dict[str, str]]:
    rows = []
    for key, entry in _syntax_table().items():
        source = entry["example"] + "\n"
        rows.append({"construct": key, "pep": entry["pep"], "table": entry["added"], "arv103": arv103_version(source),
                     "vermin": vermin_version(source), "ast": ast_version(source), "cpython": cpython_version(source, interpreters)})
    return rows


def compare_files(files: Sequence[Path], root: Path) -> Dict[str, Any]:
    both: Counter = Counter()
    arv103_only: Counter = Counter()
    vermin_only: Counter = Counter()
    unparsed: List[str] = []
    examples: Dict[str, List[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        ours = arv103_lines(text)
        reasons, _ = vermin_reasons(text)
        if reasons is None:
            unparsed.append(str(path.relative_to(root)))
            continue
        theirs: Dict[int, Set[str]] = {}
        for line, feature, version in reasons:
            if parse_version(version) >= (3, 8):
                theirs.setdefault(line, set()).add(f"{feature} ({version})")
        unmatched = dict(theirs)
        for line, (key, version) in sorted(ours.items()):
            # vermin names the line a statement starts on, ARV103 the construct's own line
            near = [other for other in sorted(unmatched, key=lambda other: abs(other - line)) if abs(other - line) <= _NEAR]
            if near:
                both[f"{key} ({version}) = {' / '.join(sorted(unmatched.pop(near[0])))}"] += 1
            else:
                arv103_only[f"{key} ({version})"] += 1
                examples.setdefault(f"arv103 only: {key}", []).append(f"{path.relative_to(root)}:{line}")
        for line, features in unmatched.items():
            for feature in features:
                kind = "vermin only (typing, not syntax)" if feature.startswith(_TYPING) else "vermin only"
                vermin_only[f"{feature}{' [typing, not syntax]' if kind != 'vermin only' else ''}"] += 1
                examples.setdefault(f"{kind}: {feature}", []).append(f"{path.relative_to(root)}:{line}")
    return {"files": len(files), "vermin_cannot_parse": unparsed, "same_line": dict(both.most_common()),
            "arv103_only": dict(arv103_only.most_common()), "vermin_only": dict(vermin_only.most_common()),
            "examples": {kind: places[:5] for kind, places in sorted(examples.items())}}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder of .py files (default: the benchmark corpus)")
    parser.add_argument("--limit", type=int, default=0, help="only every k-th file so that about N are read")
    parser.add_argument("--interpreters", type=Path, help="folder of CPython installs (DIR/*/bin/python)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    try:
        import vermin  # noqa: F401
    except ImportError:
        print("vermin is not installed: pip install vermin", file=sys.stderr)
        return 2

    interpreters = find_interpreters(args.interpreters)
    rows = compare_constructs(interpreters)
    print(f"{'construct':48} {'pep':10} {'table':6} {'ARV103':7} {'vermin':13} {'ast':13} cpython")
    for row in rows:
        print(f"{row['construct']:48} {row['pep'][:10]:10} {row['table']:6} {row['arv103']:7} {row['vermin']:13} {row['ast']:13} {row['cpython']}")
    agree = sum(row["arv103"] == row["table"] for row in rows)
    vermin_agree = sum(row["vermin"] == row["table"] for row in rows)
    print(f"ARV103 gives the table's version for {agree}/{len(rows)} constructs, vermin for {vermin_agree}/{len(rows)}")

    if args.corpus is None:
        from benchmarks.corpus import default_cache_dir

        args.corpus = default_cache_dir() / "src"
    files = sorted(args.corpus.rglob("*.py")) if args.corpus.is_dir() else []
    if args.limit and len(files) > args.limit:
        files = files[:: len(files) // args.limit]
    result: Dict[str, Any] = {"constructs": rows, "interpreters": [version for version, _ in interpreters]}
    if files:
        result["real_files"] = compare_files(files, args.corpus)
        real = result["real_files"]
        print(f"\n{real['files']} files of {args.corpus}; vermin cannot parse {len(real['vermin_cannot_parse'])}")
        for title in ("same_line", "arv103_only", "vermin_only"):
            print(f"{title}:")
            for feature, count in real[title].items():
                print(f"  {count:6}  {feature}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
