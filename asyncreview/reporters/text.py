"""The human report: most severe first, grouped by file, each finding with its source line and a
caret under the flagged code. What came from the repository or the model is escaped
(asyncreview.untrusted): one line per field, so no line can start a GitHub workflow command."""

from __future__ import annotations

from collections import Counter
from typing import Dict, List

from asyncreview.finding import Finding, Severity
from asyncreview.reporters import ReportContext, fixable, hidden_note, shown_findings, verdict_label
from asyncreview.untrusted import one_line, path_line, printable

_COLORS = {Severity.CRITICAL: "\x1b[1;31m", Severity.WARNING: "\x1b[33m", Severity.SUGGESTION: "\x1b[36m"}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


def _paint(context: ReportContext, style: str, text: str) -> str:
    return f"{style}{text}{_RESET}" if context.color else text


def _excerpt(context: ReportContext, finding: Finding) -> List[str]:
    if not finding.snippet:
        return []
    raw = finding.snippet.split("\n", 1)[0].rstrip("\r")
    first = printable(raw)  # the caret is placed on the escaped line, as it is shown
    expanded = first.expandtabs(4)
    gutter = " " * len(str(finding.line))
    start = len(printable(raw[: finding.column - 1]).expandtabs(4))
    if finding.end_line == finding.line:
        width = max(1, len(printable(raw[: finding.end_column - 1]).expandtabs(4)) - start)
    else:
        width = max(1, len(expanded.rstrip()) - start)
    caret = " " * start + "^" * width
    return [
        f"    {finding.line} | {expanded}",
        f"    {gutter} | " + _paint(context, _COLORS[finding.severity], caret),
    ]


def render(context: ReportContext) -> str:
    result = context.result
    findings, hidden = shown_findings(context)
    out: List[str] = []
    if not context.quiet:
        groups: Dict[str, List[Finding]] = {}
        for finding in findings:  # already sorted most severe first
            groups.setdefault(finding.path, []).append(finding)
        for path, items in groups.items():
            out.append(_paint(context, _BOLD, path_line(path)))
            for finding in items:
                severity = _paint(context, _COLORS[finding.severity], f"{finding.severity.value:<10}")
                location = f"{finding.line}:{finding.column}"
                mark = " [*]" if fixable(context, finding) else ""
                out.append(f"  {location:<8} {severity} {_paint(context, _BOLD, finding.code)}{mark}  {one_line(finding.message)}")
                out.extend(_excerpt(context, finding))
                if finding.review:
                    review = finding.review
                    out.append(f"    review: {one_line(verdict_label(review))}: {one_line(review.get('explanation', ''))}")
            out.append("")
    if context.statistics:
        counts = Counter((f.code, f.severity.value) for f in findings)
        for (code, severity), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            summary = context.docs[code].summary if code in context.docs else ""
            out.append(f"{count:>5}  {code}  {severity:<10} {one_line(summary)}")
        if counts:
            out.append("")
    if context.fix_summary:  # before the summary line, which stays last
        out.append(context.fix_summary + ".")
    else:
        out.extend(_fixable_line(context, findings))
    out.append(_summary_line(result, findings, hidden))
    return "\n".join(out) + "\n"


def _summary_line(result, findings: List[Finding], hidden: int) -> str:
    checked = f"{len(result.files)} file{'s' if len(result.files) != 1 else ''} checked"
    if not findings:
        if hidden:
            return f"No findings shown: {checked}; {hidden_note(hidden)}."
        return f"All clear: {checked}, no findings."
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.value.lower()}" for s in Severity if counts[s]]
    files = len({f.path for f in findings})
    noun = "finding" if len(findings) == 1 else "findings"
    line = f"Found {len(findings)} {noun} ({', '.join(parts)}) in {files} file{'s' if files != 1 else ''}; {checked}."
    return f"{line} {hidden_note(hidden)}." if hidden else line


def _fixable_line(context: ReportContext, findings: List[Finding]) -> List[str]:
    """`[*] N fixable with --fix`, as ruff tells of the fixes it did not apply."""
    fixes = [f.fix for f in findings if f.fix is not None]
    ready = sum(1 for fix in fixes if fix.safe or context.unsafe_fixes)
    held = len(fixes) - ready
    if not fixes:
        return []
    line = f"[*] {ready} fixable with --fix" if ready else "No fixes available without --unsafe-fixes"
    if held:
        line += f" ({held} more with --unsafe-fixes)" if ready else f" ({held} with it)"
    return [line + "."]
