"""`--format json`: {"findings": [...], "summary": {...}}, one object per finding record."""

from __future__ import annotations

import json
from collections import Counter

from asyncreview.reporters import ReportContext, hidden_note, shown_findings


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
        "notices": list(result.notices) + ([hidden_note(hidden)] if hidden else []),
    }


def render(context: ReportContext) -> str:
    document = {"findings": [f.to_dict() for f in context.result.findings], "summary": summary(context)}
    return json.dumps(document, indent=2) + "\n"
