"""What a rule is: a LibCST visitor that sees one file in the shared traversal and reports nodes.

Rules know nothing of reporters, caches or the command line; they read their knowledge tables from
`rules/` and report through their FileContext."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Tuple

import libcst as cst

from asyncreview.catalogue import RuleDoc, rule_docs
from asyncreview.config import OptionValidator, Settings
from asyncreview.finding import Finding, Severity
from asyncreview.names import NameResolver


class Report:
    __slots__ = ("node", "code", "message", "severity", "statement", "snippet_extra", "place")

    def __init__(self, node, code, message, severity, statement, snippet_extra="", place=()):
        self.node = node
        self.code = code
        self.message = message
        self.severity = severity
        self.statement = statement
        self.snippet_extra = snippet_extra
        self.place = place  # the statements around `node` (FileContext.place): positions are found through them


class FileContext:
    """What every rule may know about the file under analysis."""

    def __init__(self, path: str, text: str, settings: Settings) -> None:
        self.path = path
        self.text = text
        self.settings = settings
        self.names = NameResolver()
        self.statements: List[cst.CSTNode] = []
        self.top: Optional[cst.CSTNode] = None  # the module-level statement being walked
        self.locator: Any = None  # asyncreview.locate.Locator, set by the engine
        self.reports: List[Report] = []
        # Project-wide facts for rules that join files after the pool (JSON-able, per family).
        self.summary: Dict[str, Any] = {}

    def report(
        self,
        node: cst.CSTNode,
        code: str,
        message: str,
        severity: Severity,
        snippet_extra: str = "",
    ) -> None:
        if code not in self.settings.enabled:
            return
        statement = self.statements[-1] if self.statements else node
        self.reports.append(Report(node, code, message, severity, statement, snippet_extra, self.place))

    def enter_top_statement(self, statement: cst.CSTNode) -> None:
        self.top = statement

    @property
    def place(self) -> Tuple[cst.CSTNode, ...]:
        """The statements around the node being visited, outermost first (between statements:
        the module-level statement being walked): the locator generates the innermost alone."""
        if self.statements:
            return tuple(self.statements)
        return (self.top,) if self.top is not None else ()


class Rule(cst.BatchableCSTVisitor):
    """Base class of every rule; subclasses are registered through the pluggy hook."""

    codes: ClassVar[Tuple[str, ...]] = ()
    family: ClassVar[str] = ""
    # Extra [tool.asyncreview] keys this rule reads (table extensions), with their validators.
    options: ClassVar[Dict[str, OptionValidator]] = {}

    def __init__(self, context: FileContext) -> None:
        super().__init__()
        self.context = context

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[bytes]:
        """A bytes regex the raw file must match for this rule to find anything (None: always)."""
        return None

    @classmethod
    def docs(cls) -> Dict[str, RuleDoc]:
        family = rule_docs(cls.family)
        return {code: family[code] for code in cls.codes if code in family}

    @property
    def names(self) -> NameResolver:
        return self.context.names

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        code: Optional[str] = None,
        severity: Optional[Severity] = None,
        snippet_extra: str = "",
    ) -> None:
        code = code or self.codes[0]
        if severity is None:
            severity = rule_docs(self.family)[code].severity
        self.context.report(node, code, message, severity, snippet_extra)

    @classmethod
    def joins_files(cls) -> bool:
        """Whether this rule overrides `project_findings` (and so needs every parsed file's summary)."""
        return cls.project_findings.__func__ is not Rule.project_findings.__func__  # type: ignore[attr-defined]

    @classmethod
    def project_findings(cls, files: Dict[str, Any], settings: Dict[str, Settings]) -> List[Finding]:
        """Findings that need the whole project: `files` maps each path to its summary for this
        family. Runs once, after the pool."""
        return []
