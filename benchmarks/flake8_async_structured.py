"""Parity of ARV501, ARV506 and ARV507 with flake8-async's own test files for ASYNC100, 101, 103,
104 and 119, under asyncio.

The eval files mark every line flake8-async must flag: `# error: col, ...` for the code the file
is named after, `# ASYNCnnn: ...` for another (a `_trio`/`_anyio` suffix names the message's
variant, the line is expected under asyncio too). The `*_asyncio.py` variant is read where it
exists (async100, 101); async119.py is library-agnostic. Each code is compared on one
asyncreview code:

    ASYNC100 -> ARV507    a timeout block that never suspends, on the timeout's line
    ASYNC101 -> ARV506    a yield inside a TaskGroup/timeout (its "scope" message)
    ASYNC119 -> ARV506    a yield inside any `with` of an async generator
    ASYNC103 -> ARV501    a handler of cancellation that does not re-raise, on the except line
    ASYNC104 -> ARV501    a statement that leaves such a handler (a `return`, a `yield`, a raise
                          of another exception): found when ARV501 flags it or the `except` line
                          of a handler holding it (the outer one, for a nested `except ValueError:`)

ASYNC121 (`return`/`break`/`continue` inside a TaskGroup) has no counterpart: in asyncio leaving
the block waits for the group's tasks and loses nothing (async121_asyncio.py's three lines leave
a group that runs no task), and the one case on the benchmark corpus is fine code.

async119.py configures flake8-async (`# ARG --transform-async-generator-decorators=...`): the
same names are given to asyncreview's `extend-generator-decorators`.

ASYNC103/104's files are module-level code and plain functions whose try bodies are `...`: no
asyncio cancellation can arrive there, and ARV501 (by design) reads only coroutines whose try
body can suspend. They are measured twice: as they are, and adapted to asyncio (the file's body
moved into a coroutine, every `def` made `async def`, every `try: ...` body made
`await sleep(0)`), which keeps each handler flake8-async judges and puts a cancellation in reach.

    recall    = annotated lines found / annotated lines
    precision = findings on an annotated line (or handler) / findings

Usage::

    python -m benchmarks.flake8_async_structured [EVAL_FILES_DIR]

Without a folder the sdist is fetched with `pip download` into a temporary folder (not vendored).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from benchmarks.flake8_async_parity import on_eval_files


class Subject(NamedTuple):
    code: str  # flake8-async's
    files: Tuple[str, ...]
    ours: str  # asyncreview's
    message: Optional[str] = None  # a regex our message must match, for a code shared by two subjects
    adapted: bool = False  # measured on the asyncio adaptation too


SUBJECTS = (
    Subject("ASYNC100", ("async100_asyncio.py",), "ARV507"),
    Subject("ASYNC101", ("async101_asyncio.py",), "ARV506", r"^`yield` inside `[\w.]+\(\)`"),
    Subject("ASYNC119", ("async119.py",), "ARV506"),
    Subject("ASYNC103", ("async103.py", "async104.py", "async103_104_py311.py", "async103_no_104.py"), "ARV501",
            adapted=True),
    Subject("ASYNC104", ("async103.py", "async104.py", "async103_104_py311.py"), "ARV501", adapted=True),
)
MARK = re.compile(r"#.*?\b(?:(error)|(ASYNC\d{3})(?:_\w+)?):\s*\d")
ENABLE = re.compile(r"#\s*ARG\s+--enable=([\w,]+)")
TRANSFORMED = re.compile(r"#\s*ARG\s+--transform-async-generator-decorators=([\w.,]+)")
HEADER = "async def _module():\n"  # the adaptation's first line: reported lines are one lower


def expected_lines(text: str, file_code: str, code: str) -> Set[int]:
    """Lines the eval file marks with `code` (`# error:` is the file's own code)."""
    lines = set()
    for number, line in enumerate(text.splitlines(), start=1):
        for error, named in MARK.findall(line):
            if (file_code if error else named) == code:
                lines.add(number)
    return lines


def file_code(path: Path) -> str:
    return path.name.split("_")[0].split(".")[0].upper()


def enabled(text: str, path: Path) -> Set[str]:
    match = ENABLE.search(text)
    return set(match.group(1).split(",")) if match else {file_code(path)}


def adapt(text: str) -> str:
    """The same handlers in a coroutine whose try bodies suspend (line n becomes line n + 1)."""
    body = re.sub(r"^(\s*)def ", r"\1async def ", text, flags=re.M)
    body = re.sub(r"(\btry:[ \t]*(?:#[^\n]*)?\n[ \t]*)\.\.\.", r"\1await sleep(0)", body)
    return HEADER + "".join("    " + line if line.strip() else line for line in body.splitlines(True))


def handler_lines(text: str) -> Dict[int, Set[int]]:
    """line -> the `except` lines of the handlers holding it (a nested one's, the outer's)."""
    owners: Dict[int, Set[int]] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ExceptHandler):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                owners.setdefault(line, set()).add(node.lineno)
    return owners


def run_asyncreview(paths: Iterable[Path], codes: str, config: Optional[Path] = None) -> List[dict]:
    script = Path(sys.executable).with_name("asyncreview")
    command = [str(script), "--select", codes, "--format", "json", "--no-cache", "--exit-zero",
               "--target-version", "3.11", *(["--config", str(config)] if config else []), *map(str, paths)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)["findings"]


class Tally:
    def __init__(self) -> None:
        self.expected = self.found = self.flagged = self.right = 0
        self.rows: List[str] = []

    def add(self, name: str, expected: Set[int], found: Set[int], flagged: Set[int], right: Set[int]) -> None:
        self.expected += len(expected)
        self.found += len(found)
        self.flagged += len(flagged)
        self.right += len(right)
        missed, extra = sorted(expected - found), sorted(flagged - right)
        self.rows.append(f"  {name:28} {len(expected):9} {len(found):6} {len(flagged):8} {len(flagged - right):6}"
                         + (f"  missed {missed}" if missed else "") + (f"  extra {extra}" if extra else ""))

    def figures(self) -> Tuple[float, float]:
        return (self.found / self.expected if self.expected else 1.0,
                self.right / self.flagged if self.flagged else 1.0)


def measure(subject: Subject, folder: Path, scratch: Path, adapted: bool) -> Tally:
    tally = Tally()
    for name in subject.files:
        path = folder / name
        if not path.exists():
            tally.rows.append(f"  {name:28} (not in this sdist)")
            continue
        text = path.read_text(encoding="utf-8")
        if subject.code not in enabled(text, path):
            continue
        expected = expected_lines(text, file_code(path), subject.code)
        checked, shift, config = path, 0, None
        if adapted:
            checked, shift = scratch / f"adapted_{name}", 1
            checked.write_text(adapt(text), encoding="utf-8")
        transformed = TRANSFORMED.search(text)
        if transformed:
            config = scratch / f"{path.stem}.toml"
            names = json.dumps(transformed.group(1).split(","))
            config.write_text(f"[tool.asyncreview]\nextend-generator-decorators = {names}\n", encoding="utf-8")
        findings = run_asyncreview([checked], subject.ours, config)
        flagged = {f["line"] - shift for f in findings
                   if subject.message is None or re.search(subject.message, f["message"])}
        owners = handler_lines(text) if subject.ours == "ARV501" else {}
        owner = {line: max(lines) for line, lines in owners.items()}  # the innermost
        # ASYNC104 marks the statement that leaves a handler (ASYNC103 at times a line of its
        # exception tuple); ARV501 reports the handler, the outer one when the statement leaves
        # a nested handler of another exception inside it (`except ValueError: return`)
        found = {line for line in expected if line in flagged or owners.get(line, set()) & flagged}
        # a finding is right when any code it stands for expects it (ARV501: ASYNC103 and 104)
        peers = set().union(*(expected_lines(text, file_code(path), other.code) for other in SUBJECTS
                              if other.ours == subject.ours and other.code in enabled(text, path)))
        right = flagged & (peers | {owner[line] for line in peers if line in owner})
        tally.add(name, expected, found, flagged, right)
    return tally


def compare(folder: Path, scratch: Path) -> int:
    print(f"  {'file':28} {'annotated':>9} {'found':>6} {'flagged':>8} {'extra':>6}")
    for subject in SUBJECTS:
        for adapted in (False, True) if subject.adapted else (False,):
            tally = measure(subject, folder, scratch, adapted)
            recall, precision = tally.figures()
            label = f"{subject.code} ({subject.ours}{', adapted to asyncio' if adapted else ''})"
            print(f"{label}: recall {tally.found}/{tally.expected} = {recall:.1%}, "
                  f"precision {tally.right}/{tally.flagged} = {precision:.1%}")
            print("\n".join(tally.rows))
    return 0


def main(argv: List[str] = None) -> int:
    return on_eval_files(argv, __doc__, compare)


if __name__ == "__main__":
    sys.exit(main())
