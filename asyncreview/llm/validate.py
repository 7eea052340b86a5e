"""Model output is untrusted input: anything that is not a well-formed review within bounds
becomes "uncertain", never a crash and never a silently widened verdict."""

from __future__ import annotations

import re
from typing import Any, Container, Dict, Optional, Tuple

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


class _Rejected(ValueError):
    """Why an answer is not a review: it becomes "uncertain" with this reason."""


def checked_review(raw: Any, default_severity: str, shown: Container[int]) -> Tuple[Dict[str, Any], bool]:
    """The review and whether the model's answer was accepted as a review (a dropped fix keeps
    its verdict); a rejected answer is "uncertain", with the reason as its explanation."""
    try:
        return _review(raw, default_severity, shown), True
    except _Rejected as why:
        return uncertain(default_severity, str(why)), False


def checked_reviews(raw: Any, expected: Dict[str, Tuple[str, Container[int]]]) -> Dict[str, Tuple[Dict[str, Any], bool]]:
    """One request's answer, per finding id of `expected` (id -> default severity, shown lines):
    every id gets a review; an id the answer left out, repeated or buried in a malformed answer
    is "uncertain" with the reason, and ids the request did not ask about are ignored."""
    entries = raw.get("reviews") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        why = "the reviewer's answer was not a list of reviews"
        return {key: (uncertain(default, why), False) for key, (default, _) in expected.items()}
    answers: Dict[str, Any] = {}
    repeated = set()
    for entry in entries:
        finding_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(finding_id, str) and finding_id in expected:
            if finding_id in answers:
                repeated.add(finding_id)
            answers[finding_id] = {k: v for k, v in entry.items() if k != "id"}
    results = {}
    for finding_id, (default, shown) in expected.items():
        if finding_id in repeated:
            results[finding_id] = (uncertain(default, "the reviewer answered this finding twice"), False)
        elif finding_id not in answers:
            results[finding_id] = (uncertain(default, "the reviewer gave no verdict for this finding"), False)
        else:
            results[finding_id] = checked_review(answers[finding_id], default, shown)
    return results


def validate_review(raw: Any, default_severity: str, shown: Container[int]) -> Dict[str, Any]:
    """`raw` is the tool call's input; `shown` the line numbers the request showed the model
    (the enclosing code, the module's imports, the lines a helper chain cites)."""
    return checked_review(raw, default_severity, shown)[0]


def _review(raw: Any, default_severity: str, shown: Container[int]) -> Dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Rejected("the reviewer's answer was not a review record")
    verdict = raw.get("verdict")
    severity = raw.get("severity")
    explanation = raw.get("explanation", "")
    fix = raw.get("suggested_fix", "")
    if fix is None:
        fix = ""
    if verdict not in VERDICTS:
        raise _Rejected(f"the reviewer answered an unknown verdict {str(verdict)[:40]!r}")
    if not isinstance(severity, str) or severity.upper() not in SEVERITIES:
        raise _Rejected(f"the reviewer answered an unknown severity {str(severity)[:40]!r}")
    if not isinstance(explanation, str) or not isinstance(fix, str):
        raise _Rejected("the reviewer's explanation or fix was not text")
    if len(explanation) > _MAX_TEXT or len(fix) > _MAX_TEXT:  # a cut fix would be broken code
        raise _Rejected(f"the reviewer's answer was oversized ({max(len(explanation), len(fix))} characters)")
    severity = severity.upper()
    if default_severity in SEVERITIES and abs(SEVERITIES.index(severity) - SEVERITIES.index(default_severity)) > 1:
        raise _Rejected(f"the reviewer moved the severity from {default_severity} to {severity}, more than one step")
    explanation = explanation.strip()
    edits = raw.get("fix_edits") or []
    if not _well_formed_edits(edits):
        edits = []
        explanation += " [suggested fix dropped: its edits were not line ranges with replacement text]"
    unseen = unshown_line(fix, shown)
    if unseen is not None:  # the fix goes, the verdict stays: it was given on code the model saw
        fix = ""
        explanation += f" [suggested fix dropped: it refers to line {unseen}, which the request did not show]"
    review = {"verdict": verdict, "severity": severity, "explanation": explanation, "suggested_fix": fix.strip()}
    if edits and verdict == "confirmed":  # checked against the file later (llm/verify.py)
        review["fix_edits"] = [[edit["first_line"], edit["last_line"], edit["replacement"]] for edit in edits]
    return review


_MAX_EDITS = 8


def _well_formed_edits(edits: Any) -> bool:
    """A list of at most a few {first_line, last_line, replacement} records within bounds."""
    if not isinstance(edits, list) or len(edits) > _MAX_EDITS:
        return False
    for edit in edits:
        if not isinstance(edit, dict) or set(edit) != {"first_line", "last_line", "replacement"}:
            return False
        first, last, text = edit["first_line"], edit["last_line"], edit["replacement"]
        if type(first) is not int or type(last) is not int or not isinstance(text, str):
            return False
        if not 1 <= first <= last or len(text) > _MAX_TEXT:
            return False
    return True


def unshown_line(fix: str, shown: Container[int]) -> Optional[int]:
    """The first line number the fix cites that the request did not show, if any."""
    for start, end in referenced_lines(fix):
        if end < start:
            return end
        for line in (start, end):
            if line not in shown:
                return line
    return None


def tool_input(message: Any, tool_name: str) -> Optional[Any]:
    """Only a tool_use block naming our tool counts; free text in the reply is ignored."""
    for block in getattr(message, "content", None) or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return getattr(block, "input", None)
    return None
