"""What a rule is: a LibCST visitor that sees one file in the shared traversal and reports nodes.

Rules know nothing of reporters, caches or the command line; they read their knowledge tables from
`rules/` and report through their FileContext."""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple, Union

import libcst as cst

from asyncreview.catalogue import RuleDoc, rule_docs
from asyncreview.config import OptionValidator, Settings
from asyncreview.finding import Finding, Severity
from asyncreview.names import NameResolver
from asyncreview.tree import subclasses


class Words:
    """A prefilter that admits a file holding one of these whole words (identifiers, keywords)."""

    __slots__ = ("words",)

    def __init__(self, *words: str) -> None:
        self.words = frozenset(word.encode() for word in words)


class Substrings:
    """A prefilter that admits a file holding one of these anywhere, in any case (`sleep` in
    `backoff_sleep`, `Retry` in `RetryPolicy`)."""

    __slots__ = ("parts",)

    def __init__(self, *parts: str) -> None:
        self.parts = tuple(sorted({part.lower().encode() for part in parts}))


class Paired:
    """A prefilter that admits a file holding one of the words together with one of that word's
    companions (whole words, anywhere): `{"timeout": {"asyncio"}}`. Names resolved through the
    imports come as such pairs (names.mention_pairs): a word alone would let in every file that
    merely says `session` or `open`."""

    __slots__ = ("companions",)

    def __init__(self, companions: Mapping[str, Iterable[str]]) -> None:
        self.companions = {word.encode(): frozenset(w.encode() for w in words) for word, words in companions.items()}


class AllOf:
    """A prefilter that admits a file when every one of its parts does (an `except` and a sleep)."""

    __slots__ = ("parts",)

    def __init__(self, *parts: "Prefilter") -> None:
        self.parts = parts


# A bytes regex, several in a tuple (any of them admits), Words, Substrings, Paired or AllOf;
# they nest. The word forms cost one pass over the file for all of them (Scanned.words), where
# each regex over a word list is a pass of its own, ~7 ms a megabyte with `re`.
Prefilter = Union[bytes, Tuple["Prefilter", ...], Words, Substrings, Paired, AllOf]


class Scanned:
    """A file's raw bytes with the views prefilters read, each made once and only if asked."""

    __slots__ = ("data", "_words", "_lowered")

    def __init__(self, data: bytes, words: Optional[Set[bytes]] = None) -> None:
        self.data = data
        self._words: Optional[Set[bytes]] = words
        self._lowered: Optional[bytes] = None

    def in_code(self, tree: ast.Module) -> "Scanned":
        """The same file seen by its code alone: the whole-word forms (Words, Paired) read only
        the names the syntax tree holds, and the keywords the text holds; strings, comments and
        docstrings no longer admit it (a generated table that says "open" in a literal). The
        byte forms (regexes, Substrings) still read every byte, so a screen stays sound. Rules
        read names from code, never from string contents."""
        names = " ".join(_identifiers(tree)).encode("utf-8", "surrogatepass")
        words = set(names.translate(_WORDS_ONLY).split())
        words.update(self.words & _KEYWORDS)
        return Scanned(self.data, words)

    @property
    def words(self) -> Set[bytes]:
        """Every whole word: what `\\b...\\b` finds (ASCII word characters; bytes >= 128 part words)."""
        if self._words is None:
            self._words = set(self.data.translate(_WORDS_ONLY).split())
        return self._words

    @property
    def lowered(self) -> bytes:
        if self._lowered is None:
            self._lowered = self.data.lower()
        return self._lowered


_KEYWORDS = frozenset(word.encode() for word in (*keyword.kwlist, *keyword.softkwlist))
_AST_TYPES = subclasses(ast.AST)


def _identifiers(tree: ast.AST) -> List[str]:
    """Every identifier in the tree: names, attributes, imported modules and aliases, parameters,
    keyword arguments, definitions. Any string a node holds is one, but a constant's value and
    kind. Level by level without recursion (as source._ast_depth), so depth cannot overflow."""
    found: List[str] = []
    level: List[Any] = [tree]
    node_types = _AST_TYPES
    while level:
        below: List[Any] = []
        for node in level:
            if type(node) is ast.Constant:
                continue
            for name in node._fields:
                value = getattr(node, name, None)
                kind = type(value)
                if kind is str:
                    found.append(value)
                elif kind is list:
                    for item in value:
                        if type(item) is str:
                            found.append(item)
                        elif type(item) in node_types:
                            below.append(item)
                elif kind in node_types:
                    below.append(value)
        level = below
    return found


_WORDS_ONLY = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256))
Screen = Callable[[Scanned], bool]


def screen(prefilter: Prefilter) -> Screen:
    """The test a prefilter stands for, compiled once: does it admit this file?"""
    if isinstance(prefilter, bytes):
        search = re.compile(prefilter).search
        return lambda text: search(text.data) is not None
    if isinstance(prefilter, Words):
        words = prefilter.words
        return lambda text: not words.isdisjoint(text.words)
    if isinstance(prefilter, Substrings):
        parts = prefilter.parts
        return lambda text: any(part in text.lowered for part in parts)
    if isinstance(prefilter, Paired):
        companions = prefilter.companions
        return lambda text: any(
            word in text.words and not others.isdisjoint(text.words) for word, others in companions.items()
        )
    if isinstance(prefilter, AllOf):
        every = tuple(screen(part) for part in prefilter.parts)
        return lambda text: all(test(text) for test in every)
    alternatives = tuple(screen(part) for part in prefilter)
    return lambda text: any(test(text) for test in alternatives)


class ProjectSummaries(Mapping[str, Any]):
    """One family's summaries of the project's files, in discovery order, for `project_findings`.

    Some files may be pending: only joining rules with a `report_prefilter` the file fails would
    have run on it, so it holds no finding of its own and was not parsed. Their paths are listed
    like the others (module lookups see the whole project). Reading one asks for it: the pipeline
    analyzes what was asked for and joins again, until a join reads no pending file, so the last
    join is the one every summary would give. `at_hand()` gives the summaries computed, without
    asking for the others: a join that starts from what files report (call sites in coroutines)
    needs no more."""

    def __init__(self, paths: Iterable[str], summaries: Dict[str, Any], pending: Iterable[str] = ()) -> None:
        self._paths = list(paths)
        self._summaries = summaries
        self._pending = frozenset(pending)
        self.wanted: Set[str] = set()

    def __getitem__(self, path: str) -> Any:
        if path in self._pending:
            self.wanted.add(path)
            return {}
        return self._summaries[path]

    def __contains__(self, path: object) -> bool:
        return path in self._summaries or path in self._pending

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def at_hand(self) -> Iterator[Tuple[str, Any]]:
        return ((path, self._summaries[path]) for path in self._paths if path in self._summaries)


class Report:
    __slots__ = ("node", "code", "message", "severity", "statement", "snippet_extra", "place", "kind", "fix")

    def __init__(self, node, code, message, severity, statement, snippet_extra="", place=(), kind="", fix=None):
        self.node = node
        self.code = code
        self.message = message
        self.severity = severity
        self.statement = statement
        self.snippet_extra = snippet_extra
        self.place = place  # the statements around `node` (FileContext.place): positions are found through them
        self.kind = kind  # Finding.kind
        self.fix = fix  # an asyncreview.fixes.Rewrite, made into the finding's Fix when it is located


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
        kind: str = "",
        fix: Any = None,
    ) -> None:
        if code not in self.settings.enabled:
            return
        statement = self.statements[-1] if self.statements else node
        self.reports.append(Report(node, code, message, severity, statement, snippet_extra, self.place, kind, fix))

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
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        """What the raw file must hold for this rule to find anything in it (a Prefilter: a bytes
        regex, alternatives, AllOf, Paired); None: every file. It must admit every file the rule
        could report in (the rule's examples run through it); the tighter it is, the fewer files
        are parsed (CONTRIBUTING.md)."""
        return None

    @classmethod
    def report_prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        """For a rule that joins files: what a file must match for this rule to report anything in
        it rather than through the join (BlockingCalls: `async`). A file only such rules would run
        on, failing all of theirs, is parsed only if a join reads its summary (ProjectSummaries).
        Declaring one promises a summary from every file the rule runs on. None: any file."""
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
        kind: str = "",
        fix: Any = None,
    ) -> None:
        """`fix`: an asyncreview.fixes.Rewrite (CONTRIBUTING.md, "Writing a fix")."""
        code = code or self.codes[0]
        if severity is None:
            severity = rule_docs(self.family)[code].severity
        self.context.report(node, code, message, severity, snippet_extra, kind, fix)

    @classmethod
    def joins_files(cls) -> bool:
        """Whether this rule overrides `project_findings` (and so needs every parsed file's summary)."""
        return cls.project_findings.__func__ is not Rule.project_findings.__func__  # type: ignore[attr-defined]

    @classmethod
    def project_findings(cls, files: ProjectSummaries, settings: Dict[str, Settings]) -> List[Finding]:
        """Findings that need the whole project: `files` maps each path to its summary for this
        family. Runs after the pool (again, if it read a pending summary)."""
        return []
