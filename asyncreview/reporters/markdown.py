"""`--format markdown`: a severity summary table, a table per rule, then each finding with its
source and any LLM review; the shape a pull-request comment or a job summary wants.

The report stays under MAX_BYTES (a PR comment takes 65,536 characters, a job summary 1 MiB):
the tables are always complete, details stop with a line saying how many were left out. Code and
model output are untrusted text: HTML and table syntax in them is escaped."""

from __future__ import annotations

import re
from collections import Counter
from typing import List

from asyncreview.finding import Finding, Severity
from asyncreview.reporters import ReportContext, fix_diff, hidden_note, shown_findings, verdict_label
from asyncreview.untrusted import one_line, path_text, printable

MAX_BYTES = 60_000
ICONS = {Severity.CRITICAL: "\U0001F534", Severity.WARNING: "\U0001F7E0", Severity.SUGGESTION: "\U0001F535"}


def _text(value: object) -> str:
    """Untrusted one-line text: no control characters, HTML, table breaks or @-mentions."""
    text = one_line(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return text.replace("@", "@\u200b")


def _code_span(value: str) -> str:
    value = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"  # code spans render no HTML


def _fence(snippet: str, first_line: int) -> List[str]:
    snippet = printable(snippet)
    longest = max((len(run) for run in re.findall(r"`{3,}", snippet)), default=0)
    fence = "`" * max(3, longest + 1)
    lines = snippet.split("\n")
    width = len(str(first_line + len(lines) - 1))
    body = [f"{first_line + i:>{width}} | {line.rstrip()}" for i, line in enumerate(lines)]
    return [f"{fence}python", *body, fence]


def _diff_fence(lines: List[str]) -> List[str]:
    text = printable("\n".join(lines))
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}diff", *text.split("\n"), fence]


def _rule_link(code: str, context: ReportContext) -> str:
    doc = context.docs.get(code)
    return f"[`{code}`]({doc.help_uri})" if doc is not None else f"`{code}`"


def _details(finding: Finding, context: ReportContext) -> List[str]:
    doc = context.docs.get(finding.code)
    name = f" {doc.name}" if doc is not None else ""
    where = _code_span(f"{path_text(finding.path)}:{finding.line}:{finding.column}")
    out = [
        f"#### {ICONS[finding.severity]} {_rule_link(finding.code, context)}{name} at {where}",
        "",
        f"**{finding.severity.value}**: {_text(finding.message)}",
        "",
    ]
    if finding.snippet:
        out.extend(_fence(finding.snippet, finding.line))
        out.append("")
    diff = fix_diff(finding)
    if diff:
        kind = "Fix" if finding.fix.safe else "Unsafe fix (`--unsafe-fixes`)"
        out.append(f"{kind}:")
        out.extend(_diff_fence(diff))
        out.append("")
    review = finding.review
    if review:
        out.append(f"> **LLM review: {_text(verdict_label(review))}**: {_text(review.get('explanation', ''))}")
        if review.get("suggested_fix"):
            out.append(">")
            out.append(f"> Suggested fix: {_text(review['suggested_fix'])}")
        out.append("")
    return out


def render(context: ReportContext, max_bytes: int = MAX_BYTES) -> str:
    result = context.result
    shown, refuted = shown_findings(context)
    shown.sort(key=Finding.sort_key)
    counts = Counter(f.severity for f in shown)
    files = len(result.files)
    out = ["## asyncreview", ""]
    if not shown:
        out.append(f"No findings in {files} file{'s' if files != 1 else ''} checked.")
    else:
        affected = len({f.path for f in shown})
        parts = ", ".join(f"{counts[s]} {s.value.lower()}" for s in Severity if counts[s])
        noun = "finding" if len(shown) == 1 else "findings"
        out.append(f"**{len(shown)} {noun}** ({parts}) in {affected} of {files} file{'s' if files != 1 else ''} checked.")
        out += ["", "| Severity | Findings |", "| --- | ---: |"]
        out += [f"| {ICONS[s]} {s.value.capitalize()} | {counts[s]} |" for s in Severity]
        by_code = Counter(f.code for f in shown)
        worst = {}
        for finding in shown:
            worst.setdefault(finding.code, finding.severity)
        out += ["", "| Rule | Severity | Findings | What it catches |", "| --- | --- | ---: | --- |"]
        for code in sorted(by_code, key=lambda c: (-worst[c].rank, c)):
            doc = context.docs.get(code)
            name = f" {doc.name}" if doc is not None else ""
            summary = _text(doc.summary) if doc is not None else ""
            out.append(f"| {_rule_link(code, context)}{name} | {worst[code].value.capitalize()} | {by_code[code]} | {summary} |")
    if refuted:
        out += ["", f"{_text(hidden_note(refuted))}."]
    if result.notices:
        out.append("")
        out += [f"> {_text(notice)}" for notice in result.notices]
    out.append("")
    head = "\n".join(out) + "\n"
    if not shown:
        return head
    size = len(head.encode("utf-8")) + len("### Details\n\n".encode())
    reserve = 200  # room for the line that says what was left out
    blocks: List[str] = []
    for finding in shown:
        block = "\n".join(_details(finding, context)) + "\n"
        cost = len(block.encode("utf-8"))
        if size + cost + reserve > max_bytes:
            break
        blocks.append(block)
        size += cost
    tail = ""
    left = len(shown) - len(blocks)
    if left:
        tail = f"_{left} more finding{'s' if left != 1 else ''} not shown to keep this report under {max_bytes // 1000} kB; the annotations and the SARIF report have them all._\n"
    return head + "### Details\n\n" + "".join(blocks) + tail
