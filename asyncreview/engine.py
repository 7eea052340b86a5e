"""One file in, findings out: prefilter the bytes, decode, parse once, run every rule in one
traversal, and turn whatever goes wrong into a diagnostic for that file alone."""

from __future__ import annotations

import ast
import functools
import inspect
import json
import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple, Type

import libcst as cst

from asyncreview import source as src
from asyncreview.config import Settings
from asyncreview.finding import Finding, Severity
from asyncreview.locate import Locator, forget as forget_positions
from asyncreview.tree import (
    NODE_TYPES, NOT_TRIVIA, SKIPPED_WHEN_NONE, TRIVIA, collector_paused, fields_of, parse_module, trivia_fields,
)
from asyncreview.rule import FileContext, Prefilter, Rule, Scanned, Screen, screen

MAX_SNIPPET_LINES = 12


@dataclass
class FileResult:
    """Everything one analysis yields; path-independent so identical files share a cache entry."""

    findings: List[Finding] = field(default_factory=list)
    summary: Dict[str, Any] = field(default_factory=dict)
    noqa: Dict[int, Optional[List[str]]] = field(default_factory=dict)
    parsed: bool = False
    # Only joining rules would have run, and none can report here: checked, not parsed, until a
    # join asks for the summary (analyze's `defer_summaries`).
    pending: bool = False
    # From the cache: the summary as stored, decoded only if the project join has to run (it is
    # nearly all of an entry, and a warm run usually takes the join from the cache too).
    summary_text: Optional[str] = None

    def summaries(self) -> Dict[str, Any]:
        if self.summary_text is not None:
            self.summary = json.loads(self.summary_text) if self.summary_text else {}
            self.summary_text = None
        return self.summary

    def to_json(self) -> Dict[str, Any]:
        summary = self.summaries()
        return {
            "findings": [finding_record(f) for f in self.findings],
            "summary": json.dumps(summary, separators=(",", ":"), sort_keys=True) if summary else "",
            "noqa": {str(k): v for k, v in self.noqa.items()},
            "parsed": self.parsed,
            "pending": self.pending,
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "FileResult":
        stored = data["summary"]
        if not isinstance(stored, str):
            raise TypeError("summary")  # an entry of another shape: a miss
        return cls(
            findings=[Finding.from_dict(f) for f in data["findings"]],
            noqa={int(k): v for k, v in data["noqa"].items()},
            parsed=data["parsed"],
            pending=data.get("pending") is True,
            summary_text=stored,
        )


def finding_record(finding: Finding) -> Dict[str, Any]:
    """A finding as the caches keep it: with the line its `# noqa` may also sit on."""
    return finding.to_dict() | {"statement_line": finding.statement_line, "kind": finding.kind}


def diagnostic(code: str, message: str, line: int = 1, column: int = 1, snippet: str = "") -> Finding:
    severity = Severity.WARNING
    return Finding("", line, column, line, column, code, severity, message, snippet)


@functools.lru_cache(maxsize=None)
def _hook_names(cls: type) -> Tuple[str, ...]:
    """The visit_/leave_ methods a visitor class defines, found once per class: what
    `get_visitors()` finds with inspect.getmembers on every instance, for every file."""
    names = []
    for name in dir(cls):
        if name.startswith(("visit_", "leave_")):
            member = getattr(cls, name, None)
            if callable(member) and not getattr(member, "_is_no_op", False):
                names.append(name)
    return tuple(names)


def _hooks(visitor: cst.BatchableCSTVisitor) -> Dict[str, Callable[[Any], None]]:
    found = {}
    for name in _hook_names(type(visitor)):
        method = getattr(visitor, name)
        if inspect.ismethod(method):
            found[name] = method
    for name, value in vars(visitor).items():  # set on the instance: rare, kept for parity
        if name.startswith(("visit_", "leave_")) and inspect.ismethod(value):
            found[name] = value
    return found


def _switched_off(node: cst.CSTNode) -> None:
    pass


class _Dispatcher(cst.CSTVisitor):
    """Calls every rule's visit_/leave_ methods in one walk; a rule that raises is switched off for
    the rest of the file and reported as an internal error, the others go on. Handlers are looked
    up per node type once per file, not by building a method name for every node."""

    def __init__(self, visitors: Sequence[cst.BatchableCSTVisitor], on_crash: Callable[[int, BaseException], None]):
        super().__init__()
        self.on_crash = on_crash
        self.table: Dict[str, List[Tuple[int, Callable[[Any], None]]]] = {}
        for index, visitor in enumerate(visitors):
            for name, method in _hooks(visitor).items():
                self.table.setdefault(name, []).append((index, method))
        # Per node type: (visit handlers, leave handlers, fields to walk, field hooks before and after).
        self._plans: Dict[type, Tuple[list, list, Tuple[str, ...], Optional[Dict[str, list]], Optional[Dict[str, list]]]] = {}
        # Attribute hooks (`visit_If_body`) by node type, then field: the walk looks them up for
        # every field of every node, so the common miss must cost one dict lookup.
        self._visit_field: Dict[type, Dict[str, list]] = {}
        self._leave_field: Dict[type, Dict[str, list]] = {}
        for name, handlers in self.table.items():
            when, _, rest = name.partition("_")
            kind, _, attribute = rest.partition("_")
            node_type = getattr(cst, kind, None)
            if attribute and isinstance(node_type, type):
                hooks = self._visit_field if when == "visit" else self._leave_field
                hooks.setdefault(node_type, {})[attribute] = handlers
        # No visitor looks at whitespace, comments or punctuation: the walk passes them by.
        hooked = {getattr(cst, name.split("_")[1], None) for name in self.table}
        self.walked: FrozenSet[type] = NODE_TYPES if hooked & TRIVIA else NOT_TRIVIA

    def _call(self, handlers: list, node: cst.CSTNode) -> None:
        for index, method in handlers:
            try:
                method(node)
            except Exception as error:  # noqa: BLE001 - one broken rule must not end the file
                self._switch_off(index)
                self.on_crash(index, error)

    def _switch_off(self, index: int) -> None:
        """Replace a crashed visitor's handlers in place (a list being called stays the same length)."""
        for handlers in self.table.values():
            for position, (owner, _) in enumerate(handlers):
                if owner == index:
                    handlers[position] = (owner, _switched_off)

    def _plan(self, kind: type) -> tuple:
        on_field, after_field = self._visit_field.get(kind), self._leave_field.get(kind)
        fields = fields_of(kind)
        if self.walked is not NODE_TYPES:  # nobody looks at trivia: fields that hold only trivia are not read
            hooked = {*(on_field or ()), *(after_field or ())}
            skipped = trivia_fields(kind) - hooked
            fields = tuple(name for name in fields if name not in skipped)
        plan = self._plans[kind] = (
            self.table.get(f"visit_{kind.__name__}", []),
            self.table.get(f"leave_{kind.__name__}", []),
            fields,
            on_field,
            after_field,
        )
        return plan

    def on_visit(self, node: cst.CSTNode) -> bool:
        handlers = (self._plans.get(type(node)) or self._plan(type(node)))[0]
        if handlers:
            self._call(handlers, node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        handlers = (self._plans.get(type(original_node)) or self._plan(type(original_node)))[1]
        if handlers:
            self._call(handlers, original_node)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        fields = self._visit_field.get(type(node))
        if fields is not None and attribute in fields:
            self._call(fields[attribute], node)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        fields = self._leave_field.get(type(original_node))
        if fields is not None and attribute in fields:
            self._call(fields[attribute], original_node)

    def walk(self, node: cst.CSTNode, enter_statement: Optional[Callable[[cst.CSTNode], None]] = None) -> None:
        """LibCST's visit, read-only: same callbacks in the same order, but no copy of the tree.
        CSTNode.visit rebuilds (and re-validates) every node it leaves, even for a visitor that
        changes nothing: that was a third of the time of a cold run."""
        plan = self._plans.get(type(node)) or self._plan(type(node))
        visit, leave, fields, on_field, after_field = plan
        if visit:
            self._call(visit, node)
        walked = self.walked
        hooked = on_field is not None or after_field is not None
        for name in fields:
            value = getattr(node, name)
            if hooked:
                if value is None and name in SKIPPED_WHEN_NONE:
                    continue
                if on_field is not None and name in on_field:
                    self._call(on_field[name], node)
            kind = type(value)
            if kind in walked:
                self.walk(value)
            elif kind is tuple or kind is list:
                for child in value:
                    if type(child) in walked:
                        if enter_statement is not None and name == "body":
                            enter_statement(child)  # only given for the module: its statements
                        self.walk(child)
            if hooked and after_field is not None and name in after_field:
                self._call(after_field[name], node)
        if leave:
            self._call(leave, node)


_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


class _Tracker(cst.BatchableCSTVisitor):
    """Keeps the shared facts current as the walk goes: imports, local types, enclosing statement."""

    def __init__(self, context: FileContext) -> None:
        super().__init__()
        self.context = context
        self.names = context.names

    def visit_Import(self, node: cst.Import) -> None:
        self.names.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.names.add_import_from(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.context.statements.append(node)

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.context.statements.pop()

    def _enter_compound(self, node: cst.CSTNode) -> None:
        self.context.statements.append(node)

    def _leave_compound(self, node: cst.CSTNode) -> None:
        self.context.statements.pop()

    # A compound statement's header is its own statement; its body's statements push their own.
    visit_If = visit_While = visit_For = visit_With = visit_Try = visit_TryStar = _enter_compound
    leave_If = leave_While = leave_For = leave_With = leave_Try = leave_TryStar = _leave_compound
    visit_Match = _enter_compound
    leave_Match = _leave_compound

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.context.statements.append(node)
        self.names.bind(node.name.value, None)
        self.names.push_scope()
        for param in [*node.params.params, *node.params.kwonly_params, *node.params.posonly_params]:
            annotation = param.annotation.annotation if param.annotation else None
            self.names.bind(param.name.value, self.names.annotation_type(annotation) if annotation else None)
        for star in (node.params.star_arg, node.params.star_kwarg):
            if isinstance(star, cst.Param):
                self.names.bind(star.name.value, None)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.pop_scope()
        self.context.statements.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.context.statements.append(node)
        self.names.bind(node.name.value, None)
        self.names.push_scope()

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.names.pop_scope()
        self.context.statements.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.names.push_scope()
        for param in node.params.params:
            self.names.bind(param.name.value, None)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.names.pop_scope()

    def visit_Assign(self, node: cst.Assign) -> None:
        value_type = self.names.call_result_type(node.value) if isinstance(node.value, cst.Call) else None
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.names.bind(target.target.value, value_type)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name):
            declared = self.names.annotation_type(node.annotation.annotation)
            if isinstance(node.value, cst.Call):
                declared = self.names.call_result_type(node.value) or declared
            self.names.bind(node.target.value, declared)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            call = node.item
            value_type = self.names.call_result_type(call) if isinstance(call, cst.Call) else None
            self.names.bind(node.asname.name.value, value_type)


def active_rules(rules: Sequence[Type[Rule]], settings: Settings) -> Tuple[Type[Rule], ...]:
    return tuple(rule for rule in rules if any(code in settings.enabled for code in rule.codes))


def analyze(data: bytes, settings: Settings, rules: Sequence[Type[Rule]], path: str = "",
            defer_summaries: bool = False) -> FileResult:
    """Analyze one file's bytes. Never raises for anything the file contains. With
    `defer_summaries`, a file that could only feed a project join (every rule that would run
    joins files, and none can report here) is checked but not parsed: a pending result, which
    the pipeline completes if a join reads it."""
    gates = _gates(active_rules(rules, settings), settings)
    text = Scanned(data)
    running = _admitted(text, gates)
    if not running:
        return FileResult()
    with collector_paused():
        if defer_summaries and _summary_only(text, running, gates):
            checked = _checked_source(data, settings)
            if checked is not None:
                return checked
        screen = _CodeScreen(text, gates, defer_summaries) if CODE_SCREEN else None
        return _analyze_parsed(data, settings, running, path, screen)


def admitted_rules(data: bytes, rules: Tuple[Type[Rule], ...], settings: Settings,
                   tree: Optional[ast.Module] = None) -> Tuple[Type[Rule], ...]:
    """The rules to run on this file: none when no rule's prefilter admits it (it is not even
    parsed). Half the lines of real projects need no compat, resources or retry pass. A rule
    that joins files runs on every parsed file, as the join's module lookup expects a summary
    from each. With the file's syntax `tree`: as the code screen sees it (_CodeScreen)."""
    text = Scanned(data)
    return _admitted(text if tree is None else text.in_code(tree), _gates(rules, settings))


def _admitted(text: Scanned, gates: "Tuple[_Gate, ...]") -> Tuple[Type[Rule], ...]:
    admits = [gate.admits is None or gate.admits(text) for gate in gates]
    if not any(admits):
        return ()
    return tuple(gate.rule for gate, admitted in zip(gates, admits) if admitted or gate.joins)


def _summary_only(text: Scanned, running: Tuple[Type[Rule], ...], gates: "Tuple[_Gate, ...]") -> bool:
    """Whether every rule that would run joins files and cannot report in this file (its
    report_prefilter does not match): a sixth of the lines of real projects."""
    for gate in gates:
        if gate.rule in running and (gate.reports is None or gate.reports(text)):
            return False
    return True


def _checked_source(data: bytes, settings: Settings) -> Optional[FileResult]:
    """A pending result, once the source is known to decode and to parse as Python does (a
    problem is reported as a parse would report it). None: this Python cannot parse it (newer
    syntax?), so LibCST must decide now."""
    try:
        checked = src.check_nesting(src.decode(data))
    except src.SourceProblem as problem:
        return _problem_result(problem, settings, data)
    if checked.tree is None or checked.left_out:  # a statement left out has its ARV001 to report
        return None
    return FileResult(pending=True)


class _Gate(NamedTuple):
    rule: Type[Rule]
    admits: Optional[Screen]  # its prefilter; None: every file
    joins: bool
    reports: Optional[Screen]  # its report_prefilter, for a joining rule


@functools.lru_cache(maxsize=64)
def _gates(rules: Tuple[Type[Rule], ...], settings: Settings) -> Tuple[_Gate, ...]:
    return tuple(
        _Gate(rule, _compiled(rule.prefilter(settings)), rule.joins_files(),
              _compiled(rule.report_prefilter(settings)) if rule.joins_files() else None)
        for rule in rules
    )


def _compiled(prefilter: Optional[Prefilter]) -> Optional[Screen]:
    return None if prefilter is None else screen(prefilter)


# Every file a prefilter admits is screened a second time on its syntax tree's names before LibCST
# parses it (about a fifth of an `ast.parse` more, where LibCST's parse costs ten to fifteen).
# A switch only so that tests can compare the findings with and without it.
CODE_SCREEN = True


class _CodeScreen(NamedTuple):
    """The prefilters again, on the names the code holds rather than on every word of the file:
    a generated module whose tables or docstrings say `open` is not parsed by LibCST for it."""

    text: Scanned
    gates: "Tuple[_Gate, ...]"
    defer_summaries: bool

    def outcome(self, tree: ast.Module, chosen: Tuple[Type[Rule], ...]) -> "Tuple[Tuple[Type[Rule], ...], Optional[FileResult]]":
        """The rules still to run, or the result without a parse (nothing to run, or pending)."""
        code = self.text.in_code(tree)
        running = tuple(rule for rule in _admitted(code, self.gates) if rule in chosen)
        if not running:
            return running, FileResult()
        if self.defer_summaries and _summary_only(code, running, self.gates):
            return running, FileResult(pending=True)
        return running, None


def _analyze_parsed(data: bytes, settings: Settings, chosen: Tuple[Type[Rule], ...], path: str,
                    screen: Optional[_CodeScreen] = None) -> FileResult:
    try:
        checked = src.check_nesting(src.decode(data))  # every file: depth is what makes LibCST crash or crawl
        text = checked.text
        if screen is not None and checked.tree is not None and not checked.left_out:
            chosen, decided = screen.outcome(checked.tree, chosen)
            if decided is not None:
                return decided
        try:
            module = parse_module(text)
        except cst.ParserSyntaxError as error:
            problem = _syntax_problem(error, checked.syntax_error, text)
            if "\x0c" not in text:
                raise problem from None
            try:  # LibCST rejects some valid form feeds in indentation
                text = src.without_indent_form_feeds(text)
                module = parse_module(text)
            except cst.ParserSyntaxError:
                raise problem from None
        except (RecursionError, MemoryError):
            raise src.SourceProblem("ARV001", "file nested too deeply to analyze safely") from None
    except src.SourceProblem as problem:
        return _problem_result(problem, settings, data)
    result = _run_rules(module, text, settings, chosen, path, checked.tree)
    left_out = [_problem_result(problem, settings, data).findings for problem in checked.left_out]
    result.findings.extend(finding for findings in left_out for finding in findings)
    return result


_LIBCST_PLACE = re.compile(r"^(?:parser error: )?error at (\d+):(\d+): ")


def _syntax_problem(error: cst.ParserSyntaxError, python_error: Optional[SyntaxError], text: str) -> "src.SourceProblem":
    """Python's own account when it has one (it names the real mistake, "'(' was never closed",
    and places it), unless it is a bare "invalid syntax" before a line of the file where LibCST
    stopped: that is how an older Python meets newer syntax, and LibCST, which knows it, found
    the real mistake. (LibCST stops past the last line when the file ends too early.) LibCST's
    is placed where its message says (its `raw_column` is always 0), and the place is taken
    out of the message, so the two cannot disagree."""
    message, line, column = error.message, error.raw_line, error.raw_column + 1
    place = _LIBCST_PLACE.match(message)
    if place is not None:
        line, column, message = int(place.group(1)), int(place.group(2)) + 1, message[place.end():]
    if python_error is not None:
        newer_syntax = python_error.msg == "invalid syntax" and (python_error.lineno or 1) < line <= len(text.splitlines())
        if not newer_syntax:
            return src.syntax_problem(python_error)
    return src.SourceProblem("ARV001", f"syntax error: {message}", line, column)


def _problem_result(problem: "src.SourceProblem", settings: Settings, data: bytes) -> FileResult:
    if problem.code not in settings.enabled:
        return FileResult()
    snippet = ""
    lines = data.splitlines()
    if 0 < problem.line <= len(lines) and problem.code == "ARV001":
        snippet = lines[problem.line - 1].decode("utf-8", "replace")
    return FileResult(findings=[diagnostic(problem.code, problem.message, problem.line, problem.column, snippet)])


def _run_rules(module: cst.Module, text: str, settings: Settings, chosen, path: str, tree: Optional[ast.Module]) -> FileResult:
    context = FileContext(path, text, settings)
    context.locator = Locator(module, tree)
    context.names.prescan(module)
    instances: List[cst.BatchableCSTVisitor] = [_Tracker(context)]
    crashes: List[Finding] = []

    def on_crash(index: int, error: BaseException) -> None:
        if isinstance(error, RecursionError):
            message = "file nested too deeply to analyze safely"
            crashes.append(diagnostic("ARV001", message))
            return
        owner = instances[index]
        where = "".join(traceback.format_exception_only(type(error), error)).strip()
        message = f"internal error in {type(owner).__name__} ({', '.join(getattr(owner, 'codes', ()))}): {where}"
        crashes.append(diagnostic("ARV003", message))

    for rule in chosen:
        try:
            instances.append(rule(context))
        except Exception as error:  # noqa: BLE001
            crashes.append(diagnostic("ARV003", f"internal error starting {rule.__name__}: {error!r}"))
    dispatcher = _Dispatcher(instances, on_crash)
    try:
        dispatcher.walk(module, enter_statement=context.enter_top_statement)
    except RecursionError:
        crashes.append(diagnostic("ARV001", "file nested too deeply to analyze safely"))
    findings = _without_superseded(_locate(module, context), chosen) if context.reports else []
    forget_positions()
    findings.extend(c for c in crashes if c.code in settings.enabled)
    noqa = src.noqa_lines(text)
    return FileResult(
        findings=findings,
        summary=context.summary,
        noqa={line: (sorted(codes) if codes is not None else None) for line, codes in noqa.items()},
        parsed=True,
    )


def _without_superseded(findings: List[Finding], chosen: Sequence[Type[Rule]]) -> List[Finding]:
    """One mistake, one finding: where two rules diagnose the same node, the catalogue says which
    diagnosis is the more specific (`supersedes`), and only that one is reported."""
    replaces = _superseding(tuple(chosen))
    if not replaces or len(findings) < 2:
        return findings
    covered = {(f.line, f.column, gone) for f in findings for gone in replaces.get(f.code, ())}
    return [f for f in findings if (f.line, f.column, f.code) not in covered]


@functools.lru_cache(maxsize=64)
def _superseding(chosen: Tuple[Type[Rule], ...]) -> Dict[str, Tuple[str, ...]]:
    return {code: doc.supersedes for rule in chosen for code, doc in rule.docs().items() if doc.supersedes}


def _locate(module: cst.Module, context: FileContext) -> List[Finding]:
    """Positions are computed only for files that have something to report: most files do not."""
    locator = context.locator
    lines = context.text.splitlines()
    findings = []
    seen = set()
    for report in context.reports:
        where = locator.where(report.node, report.place)
        if where is None:
            continue
        start, end = where.start, where.end
        statement = locator.where(report.statement, report.place)
        key = (report.code, start.line, start.column, report.message)
        if key in seen:
            continue
        seen.add(key)
        fix = None
        if report.fix is not None:
            first = lines[statement.start.line - 1] if statement and statement.start.line <= len(lines) else ""
            fix = _fix(report, module, context, first[: len(first) - len(first.lstrip())])
        last = min(end.line, start.line + MAX_SNIPPET_LINES - 1)
        snippet = "\n".join(lines[start.line - 1 : last])
        if report.snippet_extra:
            snippet = f"{snippet}\n{report.snippet_extra}"
        findings.append(
            Finding(
                path="",
                line=start.line,
                column=start.column + 1,
                end_line=end.line,
                end_column=end.column + 1,
                code=report.code,
                severity=report.severity,
                message=report.message,
                snippet=snippet,
                statement_line=statement.start.line if statement else start.line,
                kind=report.kind,
                fix=fix,
            )
        )
    return findings


def _fix(report, module: cst.Module, context: FileContext, indent: str):
    """The edits of a report's Rewrite; None when it cannot be made here (a node the locator
    cannot find, a module whose name the file binds to something else)."""
    from asyncreview.fixes import build_fix

    locator, names = context.locator, context.names

    def where(node: cst.CSTNode):
        top = any(node is statement for statement in module.body)  # the spot for a new import
        found = locator.where(node, (node,) if top else report.place)
        return None if found is None else ((found.start.line, found.start.column), (found.end.line, found.end.column))

    def bound(name: str) -> bool:
        return name in names.aliases or name in names.module_bound

    return build_fix(report.fix, module, where, bound, indent)

