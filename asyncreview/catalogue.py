"""The rule catalogue in `rules/`: knowledge tables and one documentation entry per rule code.

The folder sits at the repository root so reviewers can read and extend it without touching the
engine; the wheel carries it as `asyncreview/rules`."""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from asyncreview.finding import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib


def rules_dir() -> Path:
    packaged = Path(__file__).with_name("rules")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


@functools.lru_cache(maxsize=None)
def load_table(family: str, name: str) -> Dict[str, Any]:
    """One knowledge table, e.g. ("compat", "versions")."""
    with open(rules_dir() / family / f"{name}.toml", "rb") as handle:
        return tomllib.load(handle)


@dataclass(frozen=True)
class Example:
    """A documented example; lines ending in `# ARVnnn` are the expected findings."""

    code: str
    flagged: bool
    options: Tuple[Tuple[str, Any], ...] = ()

    def expected(self) -> List[Tuple[int, str]]:
        return expected_markers(self.code)


@dataclass(frozen=True)
class RuleDoc:
    code: str
    name: str
    family: str
    severity: Severity
    summary: str
    rationale: str
    examples: Tuple[Example, ...] = field(default=())
    refuted_by: str = ""  # for the LLM reviewer: what in the code around would make the finding wrong

    @property
    def help_uri(self) -> str:
        return f"https://github.com/asyncreview/asyncreview/blob/main/rules/{self.family}/rules.toml#{self.code}"


def expected_markers(code: str) -> List[Tuple[int, str]]:
    """(line, code) pairs for every `# ARVnnn` marker: the fixture convention of flake8-bugbear."""
    found = []
    for number, text in enumerate(code.splitlines(), start=1):
        comment = text.rpartition("#")[2]
        for match in re.finditer(r"\b(ARV\d{3})\b", comment):
            if "noqa" not in comment:
                found.append((number, match.group(1)))
    return found


@functools.lru_cache(maxsize=None)
def rule_docs(family: str) -> Dict[str, RuleDoc]:
    docs = {}
    for code, entry in load_table(family, "rules").items():
        examples = []
        for kind in ("flagged", "clean"):
            for item in entry.get(kind, []):
                options = tuple(sorted((k, v) for k, v in item.items() if k != "code"))
                examples.append(Example(code=item["code"], flagged=kind == "flagged", options=options))
        docs[code] = RuleDoc(
            code=code,
            name=entry["name"],
            family=family,
            severity=Severity.parse(entry["severity"]),
            summary=entry["summary"],
            rationale=entry["rationale"].strip(),
            examples=tuple(examples),
            refuted_by=entry.get("refuted_by", "").strip(),
        )
    return docs


def find_doc(code: str, families: List[str]) -> Optional[RuleDoc]:
    for family in families:
        doc = rule_docs(family).get(code)
        if doc is not None:
            return doc
    return None
