"""`--format github`: one workflow command per finding, which GitHub Actions turns into an
annotation on the file. GitHub shows 10 annotations of each kind (error, warning, notice) per step,
in the order printed, so the most severe come first; past the cap, one notice (placed ahead of the
other notices, so it is among those shown) says how many more the log and the reports hold."""

from __future__ import annotations

from collections import Counter
from typing import List

from asyncreview.finding import Finding, Severity
from asyncreview.reporters import ReportContext, hidden_note, shown_findings, verdict_label
from asyncreview.untrusted import path_text, printable

COMMANDS = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.SUGGESTION: "notice"}
PER_STEP = 10  # annotations of one kind GitHub shows per step


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Finding, context: ReportContext) -> str:
    doc = context.docs.get(finding.code)
    title = f"{finding.code} {doc.name}" if doc is not None else finding.code
    properties = [
        ("file", path_text(finding.path)),
        ("line", str(finding.line)),
        ("endLine", str(max(finding.line, finding.end_line))),
        ("col", str(finding.column)),
    ]
    if finding.end_line <= finding.line:  # GitHub reads endColumn only on one-line annotations
        properties.append(("endColumn", str(max(finding.column, finding.end_column))))
    properties.append(("title", title))
    message = finding.message
    review = finding.review
    if review:
        message += f"\n\nLLM review: {verdict_label(review)}: {review.get('explanation', '')}"
        if review.get("suggested_fix"):
            message += f"\nSuggested fix: {review['suggested_fix']}"
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{COMMANDS[finding.severity]} {rendered}::{escape_data(printable(message))}"


def render(context: ReportContext) -> str:
    findings, refuted = shown_findings(context)
    findings.sort(key=Finding.sort_key)
    lines: List[str] = [command(f, context) for f in findings]
    counts = Counter(f.severity for f in findings)
    hidden = {s: counts[s] - PER_STEP for s in Severity if counts[s] > PER_STEP}
    if hidden:
        items = [f"{n} more {COMMANDS[s]}{'s' if n != 1 else ''}" for s, n in hidden.items()]
        parts = " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
        text = (
            f"GitHub shows {PER_STEP} annotations of each kind per step: {parts} are not annotated. "
            "This step's log, the job summary and the SARIF report have every finding."
        )
        notice = f"::notice title={escape_property('asyncreview: more findings')}::{escape_data(text)}"
        lines.insert(sum(counts[s] for s in (Severity.CRITICAL, Severity.WARNING)), notice)
    if refuted:  # ahead of the other notices too: among the ones GitHub shows
        notice = f"::notice title={escape_property('asyncreview: refuted findings')}::{escape_data(hidden_note(refuted))}"
        lines.insert(sum(counts[s] for s in (Severity.CRITICAL, Severity.WARNING)), notice)
    files = len(context.result.files)
    if findings:
        parts = ", ".join(f"{counts[s]} {s.value.lower()}" for s in Severity if counts[s])
        lines.append(f"asyncreview: {len(findings)} finding{'s' if len(findings) != 1 else ''} ({parts}) in {files} file{'s' if files != 1 else ''}")
    else:
        lines.append(f"asyncreview: no findings in {files} file{'s' if files != 1 else ''}")
    if refuted:
        lines[-1] += f"; {hidden_note(refuted)}"
    return "\n".join(lines) + "\n"
