"""Compare ARV3xx (missing context managers) with pylint's consider-using-with (R1732) and ruff's
SIM115 on the same real code: which lines each tool flags, and which only one of them does.

pylint is not a dependency of asyncreview; install it for this measurement only
(`pip install pylint`). The corpus is the pinned wheel set of benchmarks/corpus.py.

Usage::

    python -m benchmarks.compare_resources [--corpus DIR] [--packages aiohttp httpx ...]
                                           [--examples N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

from benchmarks.corpus import _canonical, default_cache_dir

DEFAULT_PACKAGES = ("aiohttp", "httpx", "httpcore", "anyio", "redis", "asyncpg", "websockets")
ARV_CODES = "ARV301,ARV302,ARV303,ARV304,ARV305"
Hit = Tuple[str, int]  # (path relative to the corpus, line)


def _tool(name: str) -> str:
    """The tool next to this interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


def _folders(corpus: Path, packages: Sequence[str]) -> List[Path]:
    wanted = {_canonical(p) for p in packages}
    return sorted(p for p in corpus.iterdir() if p.is_dir() and _canonical(p.name.rsplit("-", 1)[0]) in wanted)


def run_asyncreview(corpus: Path, folders: List[Path]) -> Dict[Hit, str]:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, ASYNCREVIEW_CACHE_DIR=cache)
        out = subprocess.run(
            [_tool("asyncreview"), "--select", ARV_CODES, "--format", "json", "--no-cache", "--exit-zero",
             "--target-version", "3.9", *map(str, folders)],
            cwd=corpus, env=env, capture_output=True, text=True, check=True,
        ).stdout
    hits = {}
    for finding in json.loads(out)["findings"]:
        hits[(_relative(corpus, finding["path"]), finding["line"])] = finding["code"]
    return hits


def run_pylint(corpus: Path, folders: List[Path]) -> Dict[Hit, str]:
    completed = subprocess.run(
        [_tool("pylint"), "--disable=all", "--enable=consider-using-with", "--output-format=json",
         "--jobs=0", "--score=n", *map(str, folders)],
        cwd=corpus, capture_output=True, text=True,
    )
    if completed.returncode & 32 or not completed.stdout.strip().startswith("["):  # usage error
        raise RuntimeError(f"pylint failed: {completed.stderr[-2000:]}")
    return {(_relative(corpus, m["path"]), m["line"]): "R1732" for m in json.loads(completed.stdout)}


def run_ruff(corpus: Path, folders: List[Path]) -> Dict[Hit, str]:
    completed = subprocess.run(
        [_tool("ruff"), "check", "--isolated", "--no-cache", "--select", "SIM115", "--output-format", "json",
         "--exit-zero", *map(str, folders)],
        cwd=corpus, capture_output=True, text=True, check=True,
    )
    return {(_relative(corpus, m["filename"]), m["location"]["row"]): "SIM115" for m in json.loads(completed.stdout)}


def _relative(corpus: Path, path: str) -> str:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = corpus / candidate
    try:
        return candidate.resolve().relative_to(corpus.resolve()).as_posix()
    except ValueError:
        return candidate.as_posix()


def _line(corpus: Path, hit: Hit) -> str:
    try:
        return (corpus / hit[0]).read_text(encoding="utf-8", errors="replace").splitlines()[hit[1] - 1].strip()
    except (OSError, IndexError):
        return ""


def compare(corpus: Path, packages: Sequence[str], examples: int) -> Dict[str, object]:
    folders = _folders(corpus, packages)
    if not folders:
        raise SystemExit(f"no package folders for {list(packages)} under {corpus}")
    results = {
        "asyncreview": run_asyncreview(corpus, folders),
        "pylint R1732": run_pylint(corpus, folders),
        "ruff SIM115": run_ruff(corpus, folders),
    }
    names = list(results)
    sets: Dict[str, Set[Hit]] = {name: set(hits) for name, hits in results.items()}
    report: Dict[str, object] = {
        "packages": [f.name for f in folders],
        "files": sum(1 for f in folders for _ in f.rglob("*.py")),
        "totals": {name: len(hits) for name, hits in sets.items()},
        "asyncreview_by_code": dict(Counter(results["asyncreview"].values())),
        "all_three": len(set.intersection(*sets.values())),
        "only": {},
        "pairs": {},
    }
    for name in names:
        others = set().union(*(sets[o] for o in names if o != name))
        only = sorted(sets[name] - others)
        report["only"][name] = {  # type: ignore[index]
            "count": len(only),
            "by_code": dict(Counter(results[name][hit] for hit in only)),
            "examples": [
                {"where": f"{path}:{line}", "code": results[name][(path, line)], "source": _line(corpus, (path, line))}
                for path, line in only[:examples]
            ],
        }
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = sorted(sets[a] & sets[b])
            report["pairs"][f"{a} & {b}"] = {  # type: ignore[index]
                "count": len(both),
                "examples": [
                    {"where": f"{path}:{line}", "code": f"{results[a][(path, line)]}/{results[b][(path, line)]}",
                     "source": _line(corpus, (path, line))}
                    for path, line in both[:examples]
                ],
            }
    return report


def _print(report: Dict[str, object]) -> None:
    print(f"packages: {', '.join(report['packages'])} ({report['files']} files)")  # type: ignore[arg-type]
    print("flagged lines:", ", ".join(f"{k} {v}" for k, v in report["totals"].items()))  # type: ignore[union-attr]
    print("asyncreview by code:", report["asyncreview_by_code"])
    print("flagged by all three:", report["all_three"])
    for pair, both in report["pairs"].items():  # type: ignore[union-attr]
        print(f"\nboth {pair}: {both['count']}")
        for example in both["examples"]:
            print(f"  {example['where']:<60} {example['code']:<14} {example['source'][:80]}")
    for name, only in report["only"].items():  # type: ignore[union-attr]
        print(f"\nonly {name}: {only['count']} {only['by_code']}")
        for example in only["examples"]:
            print(f"  {example['where']:<60} {example['code']:<7} {example['source'][:90]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=default_cache_dir() / "src")
    parser.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES))
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    report = compare(args.corpus, args.packages, args.examples)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
