"""Parity of ARV2xx with flake8-async's own test files for its blocking-call rules (ASYNC210-251).

flake8-async's sdist ships tests/eval_files/*.py where every line it must flag carries a comment
`# ASYNCnnn: col, ...`. Its test harness enables only the codes a file is about (the file name,
or an `# ARG --enable=` line), so each file is compared on those codes' subject: our findings
are mapped to flake8-async codes through the category of the table entry they name.

    recall    = annotated lines asyncreview flags / annotated lines
    precision = flagged lines that are annotated / lines asyncreview flags (in those categories)

Some lines are marked by the eval files themselves as calls flake8-async misses (`# should error`,
`# not handled`: a `self.x: TextIOWrapper` attribute, a return annotation, a `list[TextIOWrapper]`
loop). asyncreview flagging one is listed as `beyond` and left out of precision's denominator
(it is neither a disagreement nor parity); the strict figure, counting them as extra, is printed too.

Usage::

    python -m benchmarks.flake8_async_parity [EVAL_FILES_DIR]

Without a folder the sdist is fetched with `pip download` into a temporary folder (not vendored).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

from asyncreview.checks.blocking import Table
from asyncreview.catalogue import load_table

# flake8-async code -> table categories that cover the same ground.
CATEGORIES = {
    "ASYNC210": {"http"}, "ASYNC211": {"http"}, "ASYNC212": {"http"},
    "ASYNC220": {"subprocess"}, "ASYNC221": {"subprocess"}, "ASYNC222": {"subprocess"},
    "ASYNC230": {"open"}, "ASYNC231": {"open"}, "ASYNC232": {"file"},
    "ASYNC240": {"path"}, "ASYNC250": {"input"}, "ASYNC251": {"sleep"},
}
FILES = re.compile(r"async2[1-5]\w*\.py$")
ANNOTATION = re.compile(r"#\s*(ASYNC2\d\d)(?:_asyncio)?:")
ENABLE = re.compile(r"#\s*ARG\s+--enable=([\w,]+)")
CALLEE = re.compile(r"^`([^`]+)\(\)`")
KNOWN_MISS = re.compile(r"#\s*(?:should error|not handled)\s*$")


def fetch(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "flake8-async", "-d", str(folder)],
        check=True, capture_output=True,
    )
    archive = next(folder.glob("flake8_async-*.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/eval_files/" in m.name and m.isfile()]
        tar.extractall(folder, members=members)  # noqa: S202 - names filtered above
    return next(folder.glob("flake8_async-*/tests/eval_files"))


def enabled_codes(path: Path, text: str) -> Set[str]:
    match = ENABLE.search(text)
    if match:
        return set(match.group(1).split(","))
    return {path.name.split("_")[0].split(".")[0].upper()}


def annotated(text: str, codes: Set[str]) -> Set[int]:
    lines = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if any(code in codes for code in ANNOTATION.findall(line)):
            lines.add(number)
    return lines


def known_misses(text: str) -> Set[int]:
    """Lines the eval file says flake8-async should flag but does not."""
    return {n for n, line in enumerate(text.splitlines(), start=1) if KNOWN_MISS.search(line)}


def category_of(message: str, table: Table) -> str:
    match = CALLEE.match(message)
    entry = table.lookup(match.group(1)) if match else None
    return entry.category if entry else "?"


def main(argv: List[str] = None) -> int:
    return on_eval_files(argv, __doc__, lambda folder, scratch: compare(folder))


def on_eval_files(argv: Optional[List[str]], doc: str, compare_with: Callable[[Path, Path], int]) -> int:
    """The command line of a parity benchmark: the eval files given, or fetched into a scratch
    folder `compare_with` may use too."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="flake8-async's tests/eval_files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder) if args.folder else fetch(Path(scratch))
        return compare_with(folder, Path(scratch))


def compare(folder: Path) -> int:
    paths = sorted(p for p in folder.glob("*.py") if FILES.search(p.name))
    script = Path(sys.executable).with_name("asyncreview")
    command = [str(script), "--select", "ARV201", "--format", "json", "--no-cache", "--exit-zero",
               "--target-version", "3.11", *map(str, paths)]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    table = Table(load_table("blocking", "calls"), {})
    flagged: Dict[str, Set[Tuple[int, str]]] = {}
    for finding in report["findings"]:
        flagged.setdefault(Path(finding["path"]).name, set()).add((finding["line"], category_of(finding["message"], table)))
    total_expected = total_flagged = hit_expected = hit_flagged = total_beyond = 0
    print(f"{'file':32} {'annotated':>9} {'found':>6} {'flagged':>8} {'extra':>6}")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        codes = enabled_codes(path, text)
        wanted = set().union(*(CATEGORIES[c] for c in codes if c in CATEGORIES))
        expected = annotated(text, codes)
        ours = {line for line, category in flagged.get(path.name, ()) if category in wanted}
        beyond = (ours - expected) & known_misses(text)
        found, extra = expected & ours, ours - expected - beyond
        total_expected += len(expected)
        hit_expected += len(found)
        total_flagged += len(ours) - len(beyond)
        total_beyond += len(beyond)
        hit_flagged += len(ours & expected)
        missed = sorted(expected - ours)
        print(f"{path.name:32} {len(expected):9} {len(found):6} {len(ours):8} {len(extra):6}"
              + (f"  missed {missed}" if missed else "") + (f"  extra {sorted(extra)}" if extra else "")
              + (f"  beyond {sorted(beyond)}" if beyond else ""))
    recall = hit_expected / total_expected if total_expected else 1.0
    precision = hit_flagged / total_flagged if total_flagged else 1.0
    print(f"\nannotated lines flagged: {hit_expected}/{total_expected} = {recall:.1%}")
    print(f"flagged lines annotated: {hit_flagged}/{total_flagged} = {precision:.1%}"
          f" (beyond flake8-async, marked `should error` by its own files: {total_beyond})")
    strict = total_flagged + total_beyond
    print(f"strict, counting those as extra: {hit_flagged}/{strict} = {hit_flagged / strict if strict else 1.0:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
