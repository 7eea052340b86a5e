"""Helpers for testing rules the Fixit way: every documented example, and fixture files with
inline `# ARVnnn` expectations, run through the real engine. Third-party rule packs can use them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type

from asyncreview.catalogue import Example, FixedExample, expected_markers
from asyncreview.config import Settings, parse_version
from asyncreview.engine import analyze
from asyncreview.finding import Finding
from asyncreview.rule import Rule

_HEADER = re.compile(r"#\s*asyncreview:\s*(?P<key>[\w-]+)\s*=\s*(?P<value>.+?)\s*$")


def settings_for(
    rules: Sequence[Type[Rule]], target: str = "3.9", options: Optional[Dict[str, Any]] = None, newest: str = "3.14"
) -> Settings:
    validators: Dict[str, Any] = {}
    codes: List[str] = ["ARV001", "ARV002", "ARV003"]
    for rule in rules:
        validators.update(rule.options)
        codes.extend(rule.codes)
    normalized = []
    for key, value in (options or {}).items():
        normalized.append((key, json.dumps(validators[key](value), sort_keys=True, default=str)))
    return Settings(
        target=parse_version(target),
        target_origin=f"target {target} in the test",
        enabled=frozenset(codes),
        options=tuple(sorted(normalized)),
        newest=parse_version(newest),
    )


def findings_for(code: str, rules: Sequence[Type[Rule]], target: str = "3.9", newest: str = "3.14", **options: Any) -> List[Finding]:
    settings = settings_for(rules, target, options, newest)
    return analyze(code.encode("utf-8"), settings, list(rules), "example.py").findings


def example_outcome(example: Example, rules: Sequence[Type[Rule]]) -> Tuple[List[Tuple[int, str]], List[Tuple[int, str]]]:
    """(expected, actual) sets of (line, code) for one documented example: a marker names a code
    once per line, however many times that line is flagged with it."""
    options = dict(example.options)
    target = options.pop("target-version", "3.9")
    found = findings_for(example.code, rules, target, **options)
    return sorted(set(example.expected())), sorted({(f.line, f.code) for f in found})


def fixture_outcome(path: Path, rules: Sequence[Type[Rule]]) -> Tuple[List[Tuple[int, str]], List[Tuple[int, str]], List[Finding]]:
    """Fixture files carry `# asyncreview: target-version = 3.10` style headers for options."""
    text = path.read_text(encoding="utf-8")
    options: Dict[str, Any] = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            value = match.group("value")
            options[match.group("key")] = json.loads(value) if value[:1] in "{[\"" else value
    target = options.pop("target-version", "3.9")
    found = findings_for(text, rules, target, **options)
    return sorted(set(expected_markers(text))), sorted({(f.line, f.code) for f in found}), found


def all_examples(rules: Iterable[Type[Rule]]):
    for rule in rules:
        for code, doc in rule.docs().items():
            for number, example in enumerate(doc.examples):
                yield rule, code, number, example


def fixed_text(code: str, rules: Sequence[Type[Rule]], unsafe: bool, target: str = "3.9", **options: Any) -> str:
    """`code` as `--fix` (with `unsafe`: `--unsafe-fixes`) leaves it: the fixes the real engine
    makes, applied by the real fixer, pass after pass until none applies."""
    from asyncreview.fixing import MAX_PASSES, apply_fixes, fixable

    data = code.encode("utf-8")
    settings = settings_for(rules, target, options)
    for _ in range(MAX_PASSES):
        found = [f for f in analyze(data, settings, list(rules), "example.py").findings if fixable(f, unsafe)]
        data, applied, _broken = apply_fixes(data, found)
        if not applied:
            break
    return data.decode("utf-8")


def fixed_outcome(example: FixedExample, rules: Sequence[Type[Rule]]) -> Tuple[str, str]:
    """(safe fixes only, with unsafe fixes) for a documented fix."""
    options = dict(example.options)
    target = options.pop("target-version", "3.9")
    return (fixed_text(example.before, rules, False, target, **options),
            fixed_text(example.before, rules, True, target, **options))


def all_fixed_examples(rules: Iterable[Type[Rule]]):
    for rule in rules:
        for code, doc in rule.docs().items():
            for number, example in enumerate(doc.fixed):
                yield rule, code, number, example
