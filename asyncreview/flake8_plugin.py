"""The flake8 door: `flake8 --select ARV` runs asyncreview's local, single-file rules through the
same engine (no LLM, no network, no cross-file joins). flake8 handles `# noqa`, select/ignore and
output; the project's `[tool.asyncreview]` config (nearest pyproject.toml) supplies the target
Python, rule options, `exclude` and `per-file-ignores`, and flake8 options override it.

flake8 files plugins by their parameters; `tree` makes this a tree plugin, though the engine
parses `lines` (the text flake8 checks, which for `--stdin-display-name` is not what is on disk)
with LibCST itself. A config error is reported once per file as ARV000."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from asyncreview import __version__


class AsyncReviewChecker:
    name = "asyncreview"
    version = __version__

    target_version: Optional[str] = None
    config_file: Optional[str] = None
    _settings: Dict[Optional[Path], Any] = {}

    def __init__(self, tree: object, lines: List[str], filename: str) -> None:
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, manager) -> None:
        manager.add_option(
            "--asyncreview-target-version",
            parse_from_config=True,
            metavar="VERSION",
            help="asyncreview: lowest Python the project supports, e.g. 3.10 "
            "(default: target-version or requires-python of the nearest pyproject.toml)",
        )
        manager.add_option(
            "--asyncreview-config",
            parse_from_config=True,
            metavar="FILE",
            help="asyncreview: the pyproject.toml to read [tool.asyncreview] from (default: the nearest one)",
        )

    @classmethod
    def parse_options(cls, options) -> None:
        cls.target_version = getattr(options, "asyncreview_target_version", None) or None
        cls.config_file = getattr(options, "asyncreview_config", None) or None
        cls._settings = {}

    def _config_path(self) -> Optional[Path]:
        from asyncreview.config import find_config

        if self.config_file:
            return Path(self.config_file)
        start = Path.cwd() if self.filename in ("stdin", "-", "") else Path(self.filename).absolute().parent
        return find_config(start)

    def _settings_for(self, path: Optional[Path]):
        """(settings, config) per config file, computed once per process; settings is the
        ConfigError when the config is bad."""
        if path in self._settings:
            return self._settings[path]
        from asyncreview import plugins
        from asyncreview.config import ConfigError, FileConfig, Overrides, effective_settings, parse_version, read_pyproject

        config: Any = None
        try:
            overrides = Overrides()
            if self.target_version:
                try:
                    overrides.target_version = parse_version(self.target_version)
                except ValueError as error:
                    raise ConfigError(f"--asyncreview-target-version: {error}") from None
            options: Dict[str, Any] = {}
            for rule in plugins.all_rules():
                options.update(rule.options)
            config = read_pyproject(path, options) if path is not None else FileConfig(root=Path.cwd())
            settings: Any = effective_settings(config, overrides, plugins.all_codes(), options)
        except ConfigError as error:
            settings = error
        self._settings[path] = (settings, config)
        return self._settings[path]

    def _source(self) -> bytes:
        """The bytes of `lines`. The file's own bytes when they hold the same text, so a coding
        cookie or BOM means what it means to the CLI; `lines` themselves when flake8 checks other
        text than the disk holds (stdin, `--stdin-display-name` of an editor's unsaved buffer)."""
        text = "".join(self.lines)
        if self.filename not in ("stdin", "-", ""):
            try:
                data = Path(self.filename).read_bytes()
            except OSError:
                data = None
            if data is not None and _decoded(data) == text:
                return data
        return _encoded(text)

    def _hidden_codes(self, config: Any) -> Optional[Tuple[str, ...]]:
        """None when `exclude` covers this file; else the codes `per-file-ignores` drop here."""
        if config is None or self.filename in ("stdin", "-", ""):
            return ()
        from asyncreview import discovery

        path = Path(self.filename).absolute()
        patterns = list(config.get("exclude", [])) + list(config.get("extend-exclude", []))
        if patterns and discovery.make_excluder(config.root, patterns)(path, False):
            return None
        ignores = config.get("per-file-ignores") or {}
        if not ignores:
            return ()
        try:
            relative = path.relative_to(config.root.absolute()).as_posix()
        except ValueError:
            relative = Path(self.filename).as_posix()
        codes: List[str] = []
        for pattern, pattern_codes in ignores.items():
            if discovery.glob_spec((pattern,)).match_file(relative):
                codes.extend(pattern_codes)
        return tuple(codes)

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        from asyncreview import plugins
        from asyncreview.engine import analyze
        from asyncreview.peers import suppressed_by_peer
        from asyncreview.pipeline import _on_deep_stack

        settings, config = self._settings_for(self._config_path())
        if isinstance(settings, Exception):
            yield 1, 0, f"ARV000 asyncreview configuration error: {settings}", type(self)
            return
        hidden = self._hidden_codes(config)
        if hidden is None:
            return
        # No join here: a file only a join could need has nothing to report (defer_summaries).
        result = _on_deep_stack(analyze, self._source(), settings, plugins.all_rules(), self.filename, True)
        for finding in sorted(result.findings, key=lambda f: (f.line, f.column, f.code)):
            # flake8 applies `# noqa: ARV...` itself; a peer's code (`# noqa: ASYNC251`) only we know.
            if finding.code.startswith(hidden) or suppressed_by_peer(result.noqa, (finding.line, finding.statement_line or finding.line), finding):
                continue
            message = " ".join(finding.message.split())
            yield finding.line, max(0, finding.column - 1), f"{finding.code} {message}", type(self)


def _decoded(data: bytes) -> Optional[str]:
    """The file's text as flake8 reads it (PEP 263, BOM dropped, universal newlines)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _encoded(text: str) -> bytes:
    """Bytes that decode back to `text` under the encoding its own coding line declares."""
    import io
    import tokenize

    data = text.encode("utf-8", "surrogatepass")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return text.encode(encoding)
    except (SyntaxError, LookupError, UnicodeError):
        return data
