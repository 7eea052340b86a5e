"""Reporters turn a finished run into text. They see findings and rule documentation (data), never
rule classes; new formats come in through the `asyncreview_reporters` hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from asyncreview.catalogue import RuleDoc
from asyncreview.plugins import hookimpl


@dataclass
class ReportContext:
    result: object  # pipeline.RunResult
    docs: Dict[str, RuleDoc] = field(default_factory=dict)
    color: bool = False
    statistics: bool = False
    quiet: bool = False
    show_refuted: bool = False
    fix_summary: str = ""  # after --fix: `N fixed, M remaining (...)`
    unsafe_fixes: bool = False  # --unsafe-fixes: an unsafe fix counts as fixable


def fixable(context: ReportContext, finding: Any) -> bool:
    """Whether `--fix` (with this run's --unsafe-fixes) would fix the finding: `[*]` in the text."""
    fix = getattr(finding, "fix", None)
    return fix is not None and (fix.safe or context.unsafe_fixes)


Reporter = Callable[[ReportContext], str]


def fixed_lines(finding: Any, edits: Optional[List[Any]] = None) -> Optional[Tuple[List[str], List[str]]]:
    """The finding's own lines before and after its fix (or these of its `edits`), when every
    edit lies within them (the snippet holds them): what a suggestion block replaces and a diff
    shows. None otherwise (an import added at the top of the file)."""
    fix = getattr(finding, "fix", None)
    if edits is None:
        edits = fix.edits if fix is not None else []
    if not edits:
        return None
    count = finding.end_line - finding.line + 1
    old = finding.snippet.split("\n")[:count]
    if len(old) < count or any(e.line < finding.line or e.end_line > finding.end_line for e in edits):
        return None
    text = "\n".join(old)
    starts = [0]
    for line in old[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        start = starts[edit.line - finding.line] + edit.column - 1
        end = starts[edit.end_line - finding.line] + edit.end_column - 1
        text = text[:start] + edit.content.replace("\r\n", "\n") + text[end:]
    return old, text.split("\n")


def fix_diff(finding: Any) -> List[str]:
    """A fix as diff lines (`-` the finding's lines, `+` what replaces them, `+` lines a fix adds
    elsewhere after an `@@ line N @@` header); empty when it cannot be shown so."""
    fix = getattr(finding, "fix", None)
    if fix is None:
        return []
    inside = [e for e in fix.edits if finding.line <= e.line and e.end_line <= finding.end_line]
    outside = [e for e in fix.edits if e not in inside]
    if any(e.start != e.end or e.column != 1 for e in outside):
        return []
    shown = fixed_lines(finding, inside)
    if shown is None:
        return []
    out: List[str] = []
    for edit in outside:
        out.append(f"@@ line {edit.line} @@")
        out.extend(f"+{line}" for line in edit.content.replace("\r\n", "\n").rstrip("\n").split("\n"))
    out.append(f"@@ line {finding.line} @@")
    out.extend(f"-{line}" for line in shown[0])
    out.extend(f"+{line}" for line in shown[1])
    return out


def shown_findings(context: ReportContext) -> Tuple[List[Any], int]:
    """The findings a report shows, and how many the LLM reviewer's refutations hid from it."""
    findings = list(context.result.findings)
    if context.show_refuted:
        return findings, 0
    shown = [finding for finding in findings if not finding.hidden_by_review]
    return shown, len(findings) - len(shown)


def hidden_note(count: int) -> str:
    """Every format says what the reviewer hid and how to see it: a refutation must not vanish."""
    if count == 1:
        return "1 finding refuted by the LLM reviewer is hidden (llm-may-hide); --show-refuted shows it"
    return f"{count} findings refuted by the LLM reviewer are hidden (llm-may-hide); --show-refuted shows them"


def verdict_label(review: Mapping[str, Any]) -> str:
    """`confirmed (WARNING)`; a refutation that may not hide its finding says so."""
    label = f"{review.get('verdict')} ({review.get('severity')})"
    return label + ", disputed: kept, above llm-may-hide" if review.get("disputed") else label


@hookimpl
def asyncreview_reporters() -> Dict[str, Reporter]:
    from asyncreview.reporters import github, json_report, markdown, sarif, text

    return {
        "text": text.render,
        "json": json_report.render,
        "sarif": sarif.render,
        "github": github.render,
        "markdown": markdown.render,
    }
