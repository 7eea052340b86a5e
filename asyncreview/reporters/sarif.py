"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`)
and every other SARIF viewer. Rules come from the catalogue documentation, never rule classes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import quote

from asyncreview import __version__
from asyncreview.finding import Finding, Severity
from asyncreview.reporters import ReportContext, hidden_note, shown_findings
from asyncreview.untrusted import printable, printable_data

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/asyncreview/asyncreview"
DIAGNOSTICS_URI = f"{INFORMATION_URI}#hostile-input-limits-and-the-cache"  # README section on ARV0xx
FINGERPRINT_KEY = "asyncreview/v1"
LEVELS = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.SUGGESTION: "note"}


def _unwrap(text: str) -> str:
    """The catalogue hard-wraps its prose; plain-text viewers should reflow it."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def _rule(code: str, context: ReportContext) -> Dict[str, Any]:
    doc = context.docs.get(code)
    if doc is None:  # file diagnostics (ARV0xx) and codes of packs without a catalogue
        from asyncreview.plugins import DIAGNOSTIC_CODES

        if code not in DIAGNOSTIC_CODES:  # a rule pack's code without documentation
            return {
                "id": code,
                "name": code,
                "shortDescription": {"text": code},
                "defaultConfiguration": {"level": "warning"},
                "properties": {"tags": ["asyncreview"]},
            }
        summary = DIAGNOSTIC_CODES[code]
        full = f"{summary}. asyncreview could not check this file (or ran every rule but one on it); the run went on with the other files."
        return {
            "id": code,
            "name": "file-diagnostic",
            "shortDescription": {"text": summary},
            "fullDescription": {"text": full},
            "help": {"text": full, "markdown": f"**{summary}**\n\n{full}\n\n[File diagnostics]({DIAGNOSTICS_URI})"},
            "helpUri": DIAGNOSTICS_URI,
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": ["asyncreview", "diagnostic"]},
        }
    help_text = f"{doc.summary}\n\n{_unwrap(doc.rationale)}"
    return {
        "id": code,
        "name": doc.name,
        "shortDescription": {"text": doc.summary},
        "fullDescription": {"text": _unwrap(doc.rationale) or doc.summary},
        "help": {"text": help_text, "markdown": f"**{doc.summary}**\n\n{doc.rationale}\n\n[{code} documentation]({doc.help_uri})"},
        "helpUri": doc.help_uri,
        "defaultConfiguration": {"level": LEVELS[doc.severity]},
        "properties": {"tags": ["asyncreview", "asyncio", doc.family], "problem.severity": LEVELS[doc.severity]},
    }


def _artifact(path: str) -> Dict[str, str]:
    """Relative to %SRCROOT% (the folder asyncreview ran in) when below it, else a file URI.
    The URI percent-encodes the name's bytes as they are on disk (`bad%FF.py`), as RFC 3986 says."""
    if os.path.isabs(path) or path.replace(os.sep, "/").startswith("../"):
        return {"uri": Path(os.path.abspath(path)).as_uri()}
    return {"uri": quote(os.fsencode(path.replace(os.sep, "/"))), "uriBaseId": "%SRCROOT%"}


def _region(finding: Finding) -> Dict[str, Any]:
    region: Dict[str, Any] = {"startLine": max(1, finding.line), "startColumn": max(1, finding.column)}
    end_line = max(region["startLine"], finding.end_line)
    end_column = finding.end_column
    if end_line == region["startLine"]:
        end_column = max(region["startColumn"], end_column)
    region["endLine"] = end_line
    region["endColumn"] = max(1, end_column)
    if finding.snippet:
        region["snippet"] = {"text": printable(finding.snippet)}
    return region


def _fix(finding: Finding) -> Dict[str, Any]:
    """A fix as SARIF says it: one artifact's replacements (an empty deleted region inserts)."""
    fix = finding.fix
    replacements = [
        {
            "deletedRegion": {"startLine": e.line, "startColumn": e.column, "endLine": e.end_line, "endColumn": e.end_column},
            "insertedContent": {"text": printable(e.content)},
        }
        for e in fix.edits  # type: ignore[union-attr]
    ]
    description = "Fix" if fix.safe else "Unsafe fix (apply with --unsafe-fixes)"  # type: ignore[union-attr]
    return {
        "description": {"text": f"{description} for {finding.code}"},
        "artifactChanges": [{"artifactLocation": _artifact(finding.path), "replacements": replacements}],
        "properties": {"applicability": fix.applicability},  # type: ignore[union-attr]
    }


def _result(finding: Finding, index: Dict[str, int], fingerprint: str, context: ReportContext) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": LEVELS[finding.severity],
        "message": {"text": printable(finding.message)},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(finding.path), "region": _region(finding)}}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        "properties": {"severity": finding.severity.value, "source": finding.source},
    }
    if finding.fix is not None:
        result["fixes"] = [_fix(finding)]
    review = finding.review
    if review:
        result["properties"]["review"] = printable_data(review)
        if finding.hidden_by_review and not context.show_refuted:
            justification = printable(review.get("explanation") or "refuted by the LLM reviewer")
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": justification}]
    return result


def render(context: ReportContext) -> str:
    from asyncreview.diffmode import fingerprints

    result = context.result
    findings: List[Finding] = list(result.findings)
    from asyncreview.plugins import DIAGNOSTIC_CODES

    codes = sorted(set(context.docs) | set(DIAGNOSTIC_CODES) | {f.code for f in findings})
    rules = [_rule(code, context) for code in codes]
    index = {code: i for i, code in enumerate(codes)}
    prints = fingerprints(findings)
    hidden = shown_findings(context)[1]  # kept as suppressed results; counted here too
    notices = list(result.notices) + ([hidden_note(hidden)] if hidden else [])
    run: Dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "asyncreview",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [{"level": "note", "message": {"text": printable(n)}} for n in notices],
            }
        ],
        "results": [_result(f, index, fp, context) for f, fp in zip(findings, prints)],
        "columnKind": "unicodeCodePoints",
    }
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
