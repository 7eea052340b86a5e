"""`[tool.asyncreview]` in pyproject.toml, the target Python, and rule selection.

Everything a bad config can do ends in ConfigError (exit 2) naming the file and the key."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from asyncreview.catalogue import load_table, tomllib
from asyncreview.finding import Severity

Version = Tuple[int, int]
OptionValidator = Callable[[Any], Any]


class ConfigError(Exception):
    """A usage or configuration error: the CLI prints it and exits 2."""


def parse_version(text: str) -> Version:
    match = re.fullmatch(r"(?:py|python)?\s*(3)\.?(\d{1,2})", str(text).strip().lower())
    if not match:
        raise ValueError(f"not a Python version: {text!r} (expected e.g. 3.10 or py310)")
    return int(match.group(1)), int(match.group(2))


def format_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def known_versions() -> List[Version]:
    return sorted(parse_version(v) for v in load_table("compat", "python-releases")["releases"])


def default_target(today: Optional[datetime.date] = None) -> Version:
    """The oldest CPython line still supported today: what an unannotated project must run on."""
    today = today or datetime.date.today()
    releases = load_table("compat", "python-releases")["releases"]
    alive = [parse_version(v) for v, info in releases.items() if info["end-of-life"] > today]
    return min(alive) if alive else max(known_versions())


_CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([0-9][0-9a-zA-Z.*+!-]*)\s*$")


def _release(text: str) -> Tuple[Tuple[int, ...], bool]:
    wildcard = text.endswith(".*")
    core = re.match(r"[0-9]+(?:\.[0-9]+)*", text[:-2] if wildcard else text)
    if core is None:
        raise ValueError(text)
    return tuple(int(part) for part in core.group(0).split(".")), wildcard


def _padded(version: Tuple[int, ...], size: int = 3) -> Tuple[int, ...]:
    return tuple(version) + (0,) * (size - len(version))


def _admits(op: str, spec: str, candidate: Tuple[int, int, int]) -> bool:
    version, wildcard = _release(spec)
    if op in ("==", "===", "!=") and wildcard:
        same = candidate[: len(version)] == version
        return same if op != "!=" else not same
    target = _padded(version)
    if op == "~=":
        prefix = version[:-1]
        return candidate >= target and candidate[: len(prefix)] == prefix
    return {
        "==": candidate == target,
        "===": candidate == target,
        "!=": candidate != target,
        ">=": candidate >= target,
        "<=": candidate <= target,
        ">": candidate > target,
        "<": candidate < target,
    }[op]


def lowest_admitted(requires_python: str) -> Optional[Version]:
    """The lowest Python 3 minor version with a patch release the specifier admits."""
    clauses = []
    for raw in requires_python.split(","):
        if not raw.strip():
            continue
        match = _CLAUSE.match(raw)
        if not match:
            raise ValueError(f"cannot read requires-python clause {raw.strip()!r}")
        clauses.append((match.group(1), match.group(2)))
    for minor in range(0, 30):
        for patch in range(0, 40):
            if all(_admits(op, spec, (3, minor, patch)) for op, spec in clauses):
                return (3, minor)
    return None


def highest_admitted(requires_python: Optional[str]) -> Version:
    """The newest known Python the project supports (the newest known, without an upper bound)."""
    known = known_versions()
    if not requires_python:
        return known[-1]
    for major, minor in reversed(known):
        lowest = lowest_admitted(f"{requires_python},>={major}.{minor}")
        if lowest is not None:
            return lowest
    return known[-1]


# ---------------------------------------------------------------------------------------------
# Rule selection in the ruff tradition: prefixes, the most specific selector wins.


def _matching_length(code: str, selectors: Iterable[str]) -> int:
    return max((len(s) for s in selectors if code.startswith(s)), default=-1)


def resolve_selection(
    all_codes: Iterable[str],
    select: Optional[List[str]],
    extend_select: List[str],
    ignore: List[str],
) -> FrozenSet[str]:
    chosen = list(select) if select is not None else ["ARV"]
    chosen += extend_select
    enabled = set()
    for code in all_codes:
        picked = _matching_length(code, chosen)
        dropped = _matching_length(code, ignore)
        # File diagnostics (ARV0xx) report files we could not check; only an explicit ignore hides them.
        if code.startswith("ARV0") and picked < 0:
            picked = 0
        if picked >= 0 and picked > dropped:
            enabled.add(code)
    return frozenset(enabled)


def check_selectors(selectors: Iterable[str], all_codes: Iterable[str], where: str) -> None:
    codes = list(all_codes)
    for selector in selectors:
        if selector == "ALL":
            continue
        if not re.fullmatch(r"[A-Z]{1,3}[0-9]{0,3}", selector) or not any(c.startswith(selector) for c in codes):
            raise ConfigError(f"{where}: unknown rule selector {selector!r}")


# ---------------------------------------------------------------------------------------------
# [tool.asyncreview]


def _string_list(value: Any) -> List[str]:
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return list(value)


def _severity(value: Any) -> Severity:
    if not isinstance(value, str):
        raise ValueError("expected one of critical, warning, suggestion")
    return Severity.parse(value)


def _version(value: Any) -> Version:
    if not isinstance(value, str):
        raise ValueError("expected a version string such as \"3.10\"")
    return parse_version(value)


MAX_FILE_SIZE_LIMIT = 1 << 30  # 1 GiB: far above any Python file worth parsing, far below what a read can ask for


def byte_count(value: Any) -> int:
    """A max-file-size, from the config or the command line."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FILE_SIZE_LIMIT:
        raise ValueError(f"expected a number of bytes from 1 to {MAX_FILE_SIZE_LIMIT} (1 GiB), e.g. 5242880")
    return value


class _BadPattern(ValueError):
    """Names the pattern, so that the error can name its line."""

    def __init__(self, pattern: str, error: Exception) -> None:
        super().__init__(f"pattern {pattern!r} {error}")
        self.pattern = pattern


def _checked_pattern(pattern: str) -> str:
    from asyncreview.wildmatch import PatternError, compile_pattern

    try:
        compile_pattern(pattern)
    except PatternError as error:
        raise _BadPattern(pattern, error) from None
    return pattern


def _pattern_list(value: Any) -> List[str]:
    return [_checked_pattern(pattern) for pattern in _string_list(value)]


def _per_file_ignores(value: Any) -> Dict[str, List[str]]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of glob = ["ARV..."]')
    return {_checked_pattern(pattern): _string_list(codes) for pattern, codes in value.items()}


def _table(value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected a table")
    return dict(value)


def _llm_table(value: Any) -> Dict[str, Any]:
    from asyncreview.llm.settings import validate_table

    return validate_table(value)


def _may_hide(value: Any) -> str:
    from asyncreview.llm.settings import may_hide_level

    return may_hide_level(value)


CORE_OPTIONS: Dict[str, OptionValidator] = {
    "select": _string_list,
    "extend-select": _string_list,
    "ignore": _string_list,
    "exclude": _pattern_list,
    "extend-exclude": _pattern_list,
    "per-file-ignores": _per_file_ignores,
    "target-version": _version,
    "fail-on": _severity,
    "max-file-size": byte_count,
    "llm": _llm_table,
    "llm-may-hide": _may_hide,  # also accepted inside the llm table
}


@dataclass
class FileConfig:
    """One pyproject.toml's view; `root` anchors its relative patterns."""

    root: Path
    path: Optional[Path] = None
    values: Dict[str, Any] = field(default_factory=dict)
    requires_python: Optional[str] = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def describe(self) -> str:
        if self.path is None:
            return "defaults"
        from asyncreview.discovery import display_path

        return display_path(self.path)


def read_pyproject(path: Path, rule_options: Mapping[str, OptionValidator]) -> FileConfig:
    from asyncreview.discovery import read_regular

    try:
        document = tomllib.loads(read_regular(path).decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except ValueError as error:  # TOMLDecodeError, not UTF-8, or an integer of more than 4300 digits
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    tool = document.get("tool", {})
    section = tool.get("asyncreview", {}) if isinstance(tool, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.asyncreview] must be a table")
    validators = dict(CORE_OPTIONS, **rule_options)
    values = {}
    for key, raw in section.items():
        validator = validators.get(key)
        if validator is None:
            close = [k for k in validators if k.replace("-", "") == key.replace("-", "").replace("_", "")]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{_where(path, key)}: unknown key {key!r} in [tool.asyncreview]{hint}")
        try:
            values[key] = validator(raw)
        except ValueError as error:
            where = _where(path, key, getattr(error, "pattern", None))
            raise ConfigError(f"{where}: bad value for {key!r} in [tool.asyncreview]: {error}") from None
    project = document.get("project", {})
    requires = project.get("requires-python") if isinstance(project, dict) else None
    if requires is not None and not isinstance(requires, str):
        raise ConfigError(f"{path}: project.requires-python must be a string")
    return FileConfig(root=path.parent, path=path, values=values, requires_python=requires)


def _where(path: Path, key: str, value: Optional[str] = None) -> str:
    """`path:line` of the key (or of `value`, quoted, from the key on), by a scan of the text:
    tomllib gives no positions. Just `path` when the scan finds neither."""
    from asyncreview.discovery import read_regular

    try:
        lines = read_regular(path).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return str(path)
    start = next((n for n, line in enumerate(lines) if line.strip().startswith("[tool.asyncreview")), 0)
    key_pattern = re.compile(r"(?:^|[\s.{,\[])[\"']?" + re.escape(key) + r"[\"']?\s*[=.\]]")
    found = next((n for n in range(start, len(lines)) if key_pattern.search(lines[n])), None)
    if value is not None:
        quoted = (json.dumps(value, ensure_ascii=False), f"'{value}'")
        found = next((n for n in range(found or start, len(lines)) if any(q in lines[n] for q in quoted)), found)
    return str(path) if found is None else f"{path}:{found + 1}"


def is_relevant_pyproject(path: Path) -> bool:
    """A pyproject.toml counts when it configures asyncreview or declares a project."""
    from asyncreview.discovery import read_regular

    try:
        text = read_regular(path).decode("utf-8", errors="replace")
    except OSError:
        return False
    return "[tool.asyncreview" in text or re.search(r"^\[project\]", text, re.M) is not None


def find_config(start: Path) -> Optional[Path]:
    """The nearest relevant pyproject.toml in `start` or above it."""
    here = start if start.is_dir() else start.parent
    for folder in [here, *here.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and is_relevant_pyproject(candidate):
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# The effective settings a file is analyzed with; their fingerprint keys the result cache.


@dataclass(frozen=True)
class Settings:
    target: Version
    target_origin: str
    enabled: FrozenSet[str]
    options: Tuple[Tuple[str, str], ...] = ()  # (key, canonical JSON) of rule table extensions
    newest: Version = (3, 14)  # the newest Python the project supports

    def option(self, key: str, default: Any = None) -> Any:
        for name, value in self.options:
            if name == key:
                return json.loads(value)
        return default

    @property
    def target_text(self) -> str:
        return format_version(self.target)

    def fingerprint(self) -> str:
        return _fingerprint(self)


@functools.lru_cache(maxsize=256)
def _fingerprint(settings: Settings) -> str:
    """Once per distinct settings, not once per file."""
    payload = json.dumps([settings.target, settings.newest, sorted(settings.enabled), settings.options], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass
class Overrides:
    """What the command line says; it wins over every config file."""

    select: Optional[List[str]] = None
    extend_select: List[str] = field(default_factory=list)
    ignore: List[str] = field(default_factory=list)
    target_version: Optional[Version] = None
    fail_on: Optional[Severity] = None


def effective_settings(
    config: FileConfig, overrides: Overrides, all_codes: List[str], rule_options: Iterable[str]
) -> Settings:
    where = config.describe()
    select = overrides.select if overrides.select is not None else config.get("select")
    extend = list(config.get("extend-select", [])) + overrides.extend_select
    ignore = list(config.get("ignore", [])) + overrides.ignore
    check_selectors(config.get("select", []) + config.get("extend-select", []) + config.get("ignore", []), all_codes, where)
    for pattern, codes in (config.get("per-file-ignores") or {}).items():
        check_selectors(codes, all_codes, f"{where}: per-file-ignores {pattern!r}")
    check_selectors((overrides.select or []) + overrides.extend_select + overrides.ignore, all_codes, "command line")
    if select is not None and "ALL" in select:
        select = ["ARV"]
    enabled = resolve_selection(all_codes, select, extend, ignore)

    if overrides.target_version is not None:
        target, origin = overrides.target_version, "--target-version"
    elif config.get("target-version") is not None:
        target, origin = config.get("target-version"), f"target-version in {where}"
    elif config.requires_python:
        try:
            lowest = lowest_admitted(config.requires_python)
        except ValueError as error:
            raise ConfigError(f"{where}: project.requires-python: {error}") from None
        if lowest is None:
            raise ConfigError(f"{where}: project.requires-python {config.requires_python!r} admits no Python 3 version")
        target, origin = lowest, f"requires-python {config.requires_python!r} in {where}"
    else:
        target = default_target()
        origin = "assumed: no target-version or requires-python found; the oldest CPython still supported"
    options = tuple(
        sorted((key, json.dumps(config.get(key), sort_keys=True, default=str)) for key in rule_options if key in config.values)
    )
    try:
        newest = highest_admitted(config.requires_python)
    except ValueError:
        newest = known_versions()[-1]
    return Settings(target=target, target_origin=origin, enabled=enabled, options=options, newest=max(newest, target))


def fail_threshold(config: FileConfig, overrides: Overrides) -> Severity:
    if overrides.fail_on is not None:
        return overrides.fail_on
    return config.get("fail-on") or Severity.SUGGESTION


def cache_root() -> Path:
    import os

    configured = os.environ.get("ASYNCREVIEW_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "asyncreview" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "asyncreview"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "asyncreview"
