"""`--fix`, `--diff`: apply the findings' fixes to a fixed point, in memory, then write each
changed file once (atomically, with its encoding, BOM, line endings and permissions) or print
the diff. A fix whose result would not parse is dropped and reported as an internal error of
its rule; the run goes on."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import os
import re
import tempfile
import tokenize
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

from asyncreview import source as src
from asyncreview.engine import diagnostic
from asyncreview.finding import Finding, Fix

MAX_PASSES = 10  # a fix that keeps making new fixes stops here; what remains is reported
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclasses.dataclass
class Outcome:
    result: object  # pipeline.RunResult of the last pass: the findings that remain
    fixed: int  # findings fixed
    before: Dict[str, bytes]  # display path: the bytes on disk, for each file a fix changed
    after: Dict[str, bytes]  # display path: the fixed bytes
    applied: List[Finding] = dataclasses.field(default_factory=list)  # each fixed finding, as the pass that fixed it saw it


def fixable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and (unsafe or finding.fix.safe)


def fix_to_fixed_point(options, unsafe: bool) -> Outcome:
    """Analyze, apply every applicable fix that does not overlap an earlier one, analyze the
    changed text again (so overlapping fixes and fixes that make new findings get their turn),
    until nothing applies or MAX_PASSES."""
    from asyncreview import pipeline

    overlay: Dict[str, bytes] = {}
    before: Dict[str, bytes] = {}
    refused: Set[tuple] = set()
    broken: List[Finding] = []
    applied_all: List[Finding] = []
    fixed = 0
    for passes in range(MAX_PASSES + 1):
        result = pipeline.run(dataclasses.replace(options, overlay=dict(overlay)))
        if passes == MAX_PASSES:
            break
        todo: Dict[str, List[Finding]] = {}
        for finding in result.findings:
            if fixable(finding, unsafe) and _identity(finding) not in refused:
                todo.setdefault(finding.path, []).append(finding)
        changed = False
        for shown, findings in todo.items():
            data = overlay.get(shown)
            if data is None:
                try:
                    data = before[shown] = result.locations[shown].read_bytes()
                except OSError:
                    continue
            new, applied, breaking = apply_fixes(data, findings)
            for finding in breaking:
                refused.add(_identity(finding))
                broken.append(finding)
            if applied:
                overlay[shown] = new
                fixed += len(applied)
                applied_all.extend(applied)
                changed = True
        if not changed:
            break
    # Each refused fix once, where its finding is now (later fixes may have moved it).
    now = {_identity(f): f for f in result.findings if f.fix is not None}
    diagnostics = [_broken_fix(now.get(_identity(finding), finding)) for finding in broken]
    result.findings.extend(diagnostics)
    result.findings.sort(key=Finding.sort_key)
    result.internal_errors.extend(f"{f.path}: {f.message}" for f in diagnostics)
    after = {shown: data for shown, data in overlay.items() if data != before.get(shown)}
    return Outcome(result, fixed, {shown: before[shown] for shown in after}, after, applied_all)


def _identity(finding: Finding) -> tuple:
    """A fix as later passes see it again: positions move as other fixes land, its text does not."""
    return (finding.path, finding.code, finding.message, tuple(edit.content for edit in finding.fix.edits))  # type: ignore[union-attr]


def _broken_fix(finding: Finding) -> Finding:
    message = f"internal error in the fix of {finding.code}: the fixed file would not parse, so the fix was not applied"
    broken = diagnostic("ARV003", message, finding.line, finding.column, finding.snippet)
    broken.path = finding.path
    return broken


def apply_fixes(data: bytes, findings: Sequence[Finding]) -> Tuple[bytes, List[Finding], List[Finding]]:
    """The file with every fix applied that overlaps no earlier one (the others wait for the
    next pass), the findings fixed, and those whose fix would break the parse (dropped)."""
    encoding = _encoding(data)
    text = src.decode(data)
    chosen = _without_overlaps(text, findings)
    if not chosen:
        return data, [], []
    parsed_before = _parses_with_ast(text)
    new_text = _apply(text, [edit for _, edits in chosen for edit in edits])
    if _parses(new_text, parsed_before):
        return _encode(new_text, encoding), [finding for finding, _ in chosen], []
    # Some fix breaks the parse: apply them one at a time to tell which.
    applied: List[Finding] = []
    breaking: List[Finding] = []
    kept: List[Tuple[int, int, str]] = []
    for finding, edits in chosen:
        attempt = _apply(text, kept + edits)
        if _parses(attempt, parsed_before):
            kept.extend(edits)
            applied.append(finding)
        else:
            breaking.append(finding)
    return (_encode(_apply(text, kept), encoding) if applied else data), applied, breaking


def _encoding(data: bytes) -> str:
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def _encode(text: str, encoding: str) -> bytes:
    """Back in the file's encoding (`utf-8-sig` writes the BOM back)."""
    return text.encode(encoding)


def _line_starts(text: str) -> List[int]:
    return [0] + [match.end() for match in _LINE_BREAK.finditer(text)]


def _offset(starts: List[int], text: str, line: int, column: int) -> int:
    if line > len(starts):
        return len(text)
    return min(starts[line - 1] + column - 1, len(text))


def _without_overlaps(text: str, findings: Sequence[Finding]) -> List[Tuple[Finding, List[Tuple[int, int, str]]]]:
    """The fixes to apply in this pass, as offset edits, in the order of the file: a fix that
    overlaps one taken before it waits. The same edit in two fixes (both add `import asyncio`)
    is made once."""
    starts = _line_starts(text)
    taken: List[Tuple[int, int, str]] = []
    chosen = []
    order = sorted(findings, key=lambda f: (f.fix.edits[0].start if f.fix and f.fix.edits else (0, 0), f.line, f.column))  # type: ignore[union-attr]
    for finding in order:
        fix: Fix = finding.fix  # type: ignore[assignment]
        edits = [(_offset(starts, text, e.line, e.column), _offset(starts, text, e.end_line, e.end_column), e.content) for e in fix.edits]
        if not edits or any(start > end for start, end, _ in edits):
            continue
        new = [edit for edit in edits if edit not in taken]
        if any(_overlap(edit, other) for edit in new for other in taken) or any(
            _overlap(a, b) for index, a in enumerate(new) for b in new[index + 1:]
        ):
            continue
        taken.extend(new)
        chosen.append((finding, new))
    return chosen


def _overlap(a: Tuple[int, int, str], b: Tuple[int, int, str]) -> bool:
    if a[0] == a[1] or b[0] == b[1]:  # an insertion conflicts inside a range or at another insertion
        if a[0] == a[1] and b[0] == b[1]:
            return a[0] == b[0]
        point, (start, end) = (a[0], b[:2]) if a[0] == a[1] else (b[0], a[:2])
        return start < point < end
    return a[0] < b[1] and b[0] < a[1]


def _apply(text: str, edits: List[Tuple[int, int, str]]) -> str:
    for start, end, content in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _parses_with_ast(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _parses(text: str, with_ast: bool) -> bool:
    """As the engine would read it: LibCST always, Python's parser when it read the original."""
    from asyncreview.tree import parse_module
    import libcst as cst

    if with_ast and not _parses_with_ast(text):
        return False
    try:
        parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return False
    return True


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file in one step (a temporary file in the same folder, then os.replace), with
    its permissions; through a symbolic link, the file it points to."""
    target = Path(os.path.realpath(path))
    mode = target.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".asyncreview-fix")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def unified_diff(shown: str, before: bytes, after: bytes) -> str:
    """The change to one file as `diff -u` prints it, made printable (asyncreview.untrusted: a
    CRLF file's diff shows LF line ends)."""
    from asyncreview.untrusted import path_text, printable

    old, new = src.decode(before), src.decode(after)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{path_text(shown)}", tofile=f"b/{path_text(shown)}"
    )
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)
    return printable(text)


def summary(outcome: Outcome, unsafe: bool) -> str:
    """`N fixed, M remaining (K fixable with --unsafe-fixes)`, as ruff says it."""
    remaining = outcome.result.findings  # type: ignore[attr-defined]
    line = f"{outcome.fixed} fixed, {len(remaining)} remaining"
    hidden = sum(1 for f in remaining if f.fix is not None and not f.fix.safe)
    if hidden and not unsafe:
        line += f" ({hidden} fixable with --unsafe-fixes)"
    return line
