"""The pluggy hooks: built-in rules and reporters register exactly as a third-party pack does
(entry-point group `asyncreview`)."""

from __future__ import annotations

import functools
from typing import Dict, List, Type

import pluggy

hookspec = pluggy.HookspecMarker("asyncreview")
hookimpl = pluggy.HookimplMarker("asyncreview")


class Hooks:
    @hookspec
    def asyncreview_rules(self) -> List[type]:
        """Return Rule subclasses to run."""

    @hookspec
    def asyncreview_reporters(self) -> Dict[str, object]:
        """Return {format name: callable(findings, context) -> str}."""


@functools.lru_cache(maxsize=None)
def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("asyncreview")
    pm.add_hookspecs(Hooks)
    from asyncreview import checks, reporters

    pm.register(checks, name="builtin")
    pm.register(reporters, name="builtin-reporters")
    pm.load_setuptools_entrypoints("asyncreview")
    return pm


@functools.lru_cache(maxsize=None)
def all_rules() -> tuple:
    from asyncreview.rule import Rule

    rules: List[Type[Rule]] = []
    for batch in manager().hook.asyncreview_rules():
        rules.extend(batch)
    codes = set()
    for rule in rules:
        clash = codes.intersection(rule.codes)
        if clash:
            raise RuntimeError(f"rule code registered twice: {sorted(clash)}")
        codes.update(rule.codes)
    return tuple(rules)


DIAGNOSTIC_CODES = {
    "ARV001": "syntax error or a file too deeply nested to parse",
    "ARV002": "file cannot be read or decoded",
    "ARV003": "internal error in a rule (the other rules still ran)",
    "ARV004": "file skipped: larger than max-file-size",
}


def all_codes() -> List[str]:
    codes = list(DIAGNOSTIC_CODES)
    for rule in all_rules():
        codes.extend(rule.codes)
    return sorted(codes)


def reporters() -> Dict[str, object]:
    table: Dict[str, object] = {}
    for batch in manager().hook.asyncreview_reporters():
        table.update(batch)
    return table
