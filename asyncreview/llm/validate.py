"""Model output is untrusted input: anything that is not a well-formed review within bounds
becomes "uncertain", never a crash and never a silently widened verdict."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

VERDICTS = ("confirmed", "false_positive", "uncertain")
SEVERITIES = ("SUGGESTION", "WARNING", "CRITICAL")  # index is the step
_MAX_TEXT = 4000
_LINE_REFERENCE = re.compile(r"\b(?:lines?|L)\s*(\d+)(?:\s*(?:-|to|–)\s*(\d+))?", re.IGNORECASE)


def uncertain(default_severity: str, why: str) -> Dict[str, Any]:
    return {"verdict": "uncertain", "severity": default_severity, "explanation": why, "suggested_fix": ""}


def referenced_lines(text: str):
    for match in _LINE_REFERENCE.finditer(text):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        yield first, last


def checked_review(raw: Any, default_severity: str, lines: Tuple[int, int]) -> Tuple[Dict[str, Any], bool]:
    """The review and whether the model's answer was accepted as given (only those are cached)."""
    review = validate_review(raw, default_severity, lines)
    accepted = isinstance(raw, dict) and raw.get("verdict") == review["verdict"] and review["explanation"] == str(raw.get("explanation", "")).strip()[:_MAX_TEXT]
    return review, accepted


def validate_review(raw: Any, default_severity: str, lines: Tuple[int, int]) -> Dict[str, Any]:
    """`raw` is the tool call's input; `lines` the first and last line number shown to the model."""
    if not isinstance(raw, dict):
        return uncertain(default_severity, "the reviewer's answer was not a review record")
    verdict = raw.get("verdict")
    severity = raw.get("severity")
    explanation = raw.get("explanation", "")
    fix = raw.get("suggested_fix", "")
    if fix is None:
        fix = ""
    if verdict not in VERDICTS:
        return uncertain(default_severity, f"the reviewer answered an unknown verdict {str(verdict)[:40]!r}")
    if not isinstance(severity, str) or severity.upper() not in SEVERITIES:
        return uncertain(default_severity, f"the reviewer answered an unknown severity {str(severity)[:40]!r}")
    if not isinstance(explanation, str) or not isinstance(fix, str):
        return uncertain(default_severity, "the reviewer's explanation or fix was not text")
    if len(explanation) > _MAX_TEXT or len(fix) > _MAX_TEXT:  # a cut fix would be broken code
        return uncertain(default_severity, f"the reviewer's answer was oversized ({max(len(explanation), len(fix))} characters)")
    severity = severity.upper()
    if default_severity in SEVERITIES and abs(SEVERITIES.index(severity) - SEVERITIES.index(default_severity)) > 1:
        return uncertain(default_severity, f"the reviewer moved the severity from {default_severity} to {severity}, more than one step")
    first, last = lines
    for start, end in referenced_lines(fix):
        if start < first or end > last or end < start:
            return uncertain(default_severity, f"the suggested fix refers to line {start}, outside the reviewed code ({first}-{last})")
    return {
        "verdict": verdict,
        "severity": severity,
        "explanation": explanation.strip()[:_MAX_TEXT],
        "suggested_fix": fix.strip()[:_MAX_TEXT],
    }


def tool_input(message: Any, tool_name: str) -> Optional[Any]:
    """Only a tool_use block naming our tool counts; free text in the reply is ignored."""
    for block in getattr(message, "content", None) or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return getattr(block, "input", None)
    return None
