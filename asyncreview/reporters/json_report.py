"""`--format json`: {"findings": [...], "summary": {...}}, one object per finding record."""

from __future__ import annotations

import json
from collections import Counter

from asyncreview.reporters import ReportContext, hidden_note, shown_findings
from asyncreview.untrusted import path_text, printable_data


def summary(context: ReportContext) -> dict:
    result = context.result
    by_severity = Counter(f.severity.value for f in result.findings)
    hidden = shown_findings(context)[1]
    return {
        "files": len(result.files),
        "parsed": result.parsed,
        "cached": result.cached,
        "findings": len(result.findings),
        "suppressed": result.suppressed,
        "by_severity": {s: by_severity.get(s, 0) for s in ("CRITICAL", "WARNING", "SUGGESTION")},
        "by_code": dict(sorted(Counter(f.code for f in result.findings).items())),
        "fail_on": result.threshold.value,
        "hidden_by_reviewer": hidden,  # in "findings" with their review, out of the exit code
        "disputed": sum(1 for f in result.findings if f.review and f.review.get("disputed")),
        "notices": printable_data(list(result.notices) + ([hidden_note(hidden)] if hidden else [])),
    }


def _record(finding) -> dict:
    """A finding as printable data: the path escaped on one line (`\\xff` for a byte that is not
    UTF-8), control characters escaped everywhere; so no lone surrogate reaches the JSON."""
    record = printable_data(finding.to_dict())
    record["path"] = path_text(finding.path)
    return record


def render(context: ReportContext) -> str:
    document = {"findings": [_record(f) for f in context.result.findings], "summary": summary(context)}
    return json.dumps(document, indent=2) + "\n"
