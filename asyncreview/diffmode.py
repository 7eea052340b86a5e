"""Adopting asyncreview on a legacy code base: `--diff-base REF` keeps only findings on lines
changed since REF, and a baseline file hides findings that were already there.

Both filter a finished run (after `# noqa`, before the LLM stage and the reporters), so the
engine and its cache never know about them. Fingerprints survive lines moving: they hash the
code, the path, the flagged source line with its whitespace normalized and the occurrence index
of that triple, never a line number."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from asyncreview.finding import Finding
from asyncreview.untrusted import path_text

BASELINE_VERSION = 1
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class DiffError(Exception):
    """Git or a baseline file said no: a usage error (exit 2)."""


# ---------------------------------------------------------------------------------------------
# Fingerprints (shared with the SARIF reporter's partialFingerprints)


def _flagged_line(finding: Finding) -> str:
    text = finding.snippet.split("\n", 1)[0] if finding.snippet else finding.message
    if finding.code.startswith("ARV0") and not finding.snippet:
        text = re.sub(r"\d+", "N", finding.message)  # diagnostics may name sizes or positions
    return " ".join(text.split())


def fingerprints(findings: Iterable[Finding], root: Optional[Path] = None) -> List[str]:
    """One stable fingerprint per finding, in the order given. `root` makes paths relative to a
    fixed folder (the baseline's) instead of the current one."""
    items = list(findings)
    keyed = []
    for index, finding in enumerate(items):
        path = finding.path
        if root is not None:
            try:
                path = os.path.relpath(os.path.realpath(finding.path), os.path.realpath(root))
            except ValueError:  # another drive on Windows
                pass
        path = path.replace(os.sep, "/")
        keyed.append(((finding.code, path, _flagged_line(finding)), (finding.line, finding.column), index))
    keyed.sort(key=lambda item: (item[0], item[1]))
    result: List[str] = [""] * len(items)
    seen: Dict[Tuple[str, str, str], int] = {}
    for key, _position, index in keyed:
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        payload = "\0".join((*key, str(occurrence)))
        result[index] = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return result


# ---------------------------------------------------------------------------------------------
# Baseline


def write_baseline(findings: List[Finding], path: Path) -> int:
    prints = fingerprints(findings, path.absolute().parent)
    entries = [
        {"fingerprint": fp, "code": f.code, "path": path_text(f.path), "line": f.line, "message": f.message}
        for fp, f in zip(prints, findings)
    ]
    document = {"asyncreview-baseline": BASELINE_VERSION, "findings": entries}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise DiffError(f"cannot write baseline {path}: {error.strerror or error}") from None
    return len(entries)


def read_baseline(path: Path) -> Set[str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DiffError(f"cannot read baseline {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise DiffError(f"baseline {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("asyncreview-baseline") != BASELINE_VERSION:
        raise DiffError(f"{path} is not an asyncreview baseline (write one with --write-baseline)")
    entries = document.get("findings")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries):
        raise DiffError(f"baseline {path}: 'findings' must be a list of objects with a 'fingerprint'")
    return {entry["fingerprint"] for entry in entries}


def apply_baseline(findings: List[Finding], path: Path) -> Tuple[List[Finding], int]:
    known = read_baseline(path)
    prints = fingerprints(findings, path.absolute().parent)
    kept = [f for f, fp in zip(findings, prints) if fp not in known]
    return kept, len(findings) - len(kept)


# ---------------------------------------------------------------------------------------------
# Diff mode


def _git(args: List[str], cwd: Path) -> str:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="surrogateescape"
        )
    except OSError as error:
        raise DiffError(f"--diff-base needs git: {error.strerror or error}") from None
    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()
        raise DiffError(f"git {' '.join(args[:2])} failed: {message[-1] if message else 'exit ' + str(completed.returncode)}")
    return completed.stdout


def _unquote(path: str) -> str:
    """git quotes unusual paths C-style ("a\\303\\251.py")."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "surrogateescape")  # as os.fsdecode names files


def parse_diff(text: str) -> Dict[str, Set[int]]:
    """{path relative to the repository: added or changed line numbers in the new version}."""
    changed: Dict[str, Set[int]] = {}
    current: Optional[Set[int]] = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            target = line[4:].rstrip("\t")
            if target == "/dev/null":
                current = None
                continue
            target = _unquote(target)
            current = changed.setdefault(target[2:] if target.startswith("b/") else target, set())
        elif line.startswith("@@") and current is not None:
            match = _HUNK.match(line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or "1")
                current.update(range(start, start + count))
    return changed


def changed_lines(base: str, cwd: Optional[Path] = None) -> Tuple[Path, Dict[str, Optional[Set[int]]]]:
    """(repository root, {relative path: changed lines, or None for a new untracked file})."""
    cwd = cwd or Path.cwd()
    if base.startswith("-"):
        raise DiffError(f"--diff-base {base!r} is not a git revision")
    root = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], cwd)
    except DiffError:
        raise DiffError(f"--diff-base {base!r}: no such commit in {root}") from None
    try:  # what this branch changed: compare with the fork point, as a pull request does
        since = _git(["merge-base", base, "HEAD"], cwd).strip() or base
    except DiffError:  # shallow clone or unrelated histories: compare with REF itself
        since = base
    diff = _git(["diff", "--no-color", "--no-ext-diff", "--unified=0", "--src-prefix=a/", "--dst-prefix=b/", since, "--"], root)
    result: Dict[str, Optional[Set[int]]] = dict(parse_diff(diff))
    for name in _git(["ls-files", "--others", "--exclude-standard", "-z"], root).split("\0"):
        if name:
            result[name] = None
    return root, result


def _in_repo(path: str, root: Path) -> Optional[str]:
    try:
        return Path(os.path.realpath(path)).relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        return None


def filter_to_diff(findings: List[Finding], base: str, cwd: Optional[Path] = None) -> Tuple[List[Finding], int]:
    """Findings whose lines touch the diff; a file diagnostic (ARV0xx) counts for a changed file."""
    root, changed = changed_lines(base, cwd)
    kept = []
    for finding in findings:
        relative = _in_repo(finding.path, root)
        if relative is None or relative not in changed:
            continue
        lines = changed[relative]
        if lines is None or finding.code.startswith("ARV0"):
            kept.append(finding)
        elif any(line in lines for line in range(finding.line, max(finding.line, finding.end_line) + 1)):
            kept.append(finding)
    return kept, len(findings) - len(kept)


def apply(result, diff_base: Optional[str] = None, baseline: Optional[Path] = None) -> List[str]:
    """Filters `result.findings` in place; returns notices saying what was hidden."""
    notices = []
    if diff_base:
        result.findings, hidden = filter_to_diff(result.findings, diff_base)
        if hidden:
            notices.append(f"--diff-base {diff_base}: {hidden} finding{'s' if hidden != 1 else ''} on unchanged lines not shown")
    if baseline is not None:
        result.findings, hidden = apply_baseline(result.findings, baseline)
        if hidden:
            notices.append(f"baseline {baseline}: {hidden} known finding{'s' if hidden != 1 else ''} not shown")
    return notices
