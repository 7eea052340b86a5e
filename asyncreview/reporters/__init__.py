"""Reporters turn a finished run into text. They see findings and rule documentation (data), never
rule classes; new formats come in through the `asyncreview_reporters` hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Tuple

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
