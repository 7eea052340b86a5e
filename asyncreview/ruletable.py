"""The README's table of every code, made from the catalogue and the registered rules so the two
cannot drift apart (tests/test_readme.py compares them). `python -m asyncreview.ruletable` prints
it in Markdown, ready to paste between the README's `rules-table` markers."""

from __future__ import annotations

from typing import List, Tuple

from asyncreview.engine import diagnostic
from asyncreview.plugins import DIAGNOSTIC_CODES, all_rules


def rows() -> List[Tuple[str, str, str, str]]:
    """(code, family, severity, summary), sorted by code."""
    # Diagnostics come from the engine, not from a rule: their grade is the one it gives them.
    found = [(code, "file diagnostics", diagnostic(code, text).severity.name, text) for code, text in DIAGNOSTIC_CODES.items()]
    for rule in all_rules():
        for code, doc in rule.docs().items():
            found.append((code, doc.family, doc.severity.name, doc.summary))
    return sorted(found)


def markdown() -> str:
    lines = ["| code | family | severity | catches |", "| --- | --- | --- | --- |"]
    for code, family, severity, summary in rows():
        lines.append(f"| {code} | {family} | {severity} | {summary.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
