"""The pluggy hooks: built-in rules and reporters register exactly as a third-party pack does
(entry-point group `asyncreview`)."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from typing import Dict, List, Optional, Tuple, Type

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
    found = _entry_points("asyncreview")
    if found is None:
        pm.load_setuptools_entrypoints("asyncreview")
        return pm
    for name, target in found:
        if pm.has_plugin(name) or pm.is_blocked(name):
            continue
        module, _, attrs = target.partition(":")
        plugin = importlib.import_module(module.strip())
        for attr in filter(None, attrs.strip().split(".")):
            plugin = getattr(plugin, attr)
        pm.register(plugin, name=name)
    return pm


def _entry_points(group: str) -> Optional[List[Tuple[str, str]]]:
    """(name, "module:attr") of the entry points in `group`, read straight from the
    entry_points.txt of every *.dist-info / *.egg-info folder on sys.path, in the order
    importlib.metadata would find them. importlib.metadata itself costs ~50 ms of start-up, a
    tenth of a one-file run; None (use it) when sys.path holds anything but plain folders."""
    found: List[Tuple[str, str]] = []
    header = f"[{group}]"
    for entry in sys.path:
        folder = entry or "."
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                return None  # a zip or other importer: let importlib.metadata handle it
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.lower().endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
            if header not in text:
                continue
            section = None
            for line in text.splitlines():
                line = line.strip()
                if not line or line[0] in "#;":
                    continue
                if line.startswith("["):
                    section = line
                elif section == header and "=" in line:
                    key, _, value = line.partition("=")
                    found.append((key.strip(), value.split("[")[0].strip()))
    return found


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
