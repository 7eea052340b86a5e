"""`--format json`: {"findings": [...], "summary": {...}}, one object per finding record."""

from __future__ import annotations

import json
from collections import Counter

from asyncreview.reporters import ReportContext


def summary(context: ReportContext) -> dict:
    result = context.result
    by_severity = Counter(f.severity.value for f in result.findings)
    return {
        "files": len(result.files),
        "parsed": result.parsed,
        "cached": result.cached,
        "findings": len(result.findings),
        "suppressed": result.suppressed,
        "by_severity": {s: by_severity.get(s, 0) for s in ("CRITICAL", "WARNING", "SUGGESTION")},
        "by_code": dict(sorted(Counter(f.code for f in result.findings).items())),
        "fail_on": result.threshold.value,
        "notices": list(result.notices),
    }


def render(context: ReportContext) -> str:
    document = {"findings": [f.to_dict() for f in context.result.findings], "summary": summary(context)}
    return json.dumps(document, indent=2) + "\n"
