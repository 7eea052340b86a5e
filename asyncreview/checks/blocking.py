"""ARV2xx: calls that block the event loop, written in a coroutine (ARV201) or hidden in the
project's own sync helpers (ARV202).

What blocks lives in rules/blocking/calls.toml. Each file's pass reports direct calls and chains
that stay inside the file, and leaves a summary (functions that block, calls between functions,
call sites in coroutines) that `project_findings` joins across files after the pool."""

from __future__ import annotations

import functools
import sys
from collections import deque
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.config import Settings
from asyncreview.finding import Finding, Severity
from asyncreview.names import dotted_name
from asyncreview.rule import Prefilter, ProjectSummaries, Report, Rule, Words

DEFAULT_DEPTH = 5
_RANK = {"SUGGESTION": 1, "WARNING": 2, "CRITICAL": 3}
# Modules whose functions are never the project's own helpers (3.9 lacks stdlib_module_names).
_STDLIB: FrozenSet[str] = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "asyncio", "os", "sys", "time", "json", "re", "io", "typing", "logging", "functools", "itertools",
    "collections", "subprocess", "pathlib", "socket", "ssl", "threading", "queue", "contextlib",
    "dataclasses", "enum", "math", "random", "string", "struct", "datetime", "urllib", "http", "inspect",
    "traceback", "warnings", "weakref", "abc", "copy", "shutil", "tempfile", "types", "uuid", "hashlib",
    "base64", "concurrent", "signal", "platform", "glob", "pickle", "codecs", "operator", "textwrap",
}


# -- the table ---------------------------------------------------------------------------------
class Entry:
    __slots__ = ("category", "severity", "what", "alternative", "nonblocking", "exempt", "path_prefixes",
                 "only_keywords", "if_imported", "in_helpers")

    def __init__(self, group: Dict[str, Any]) -> None:
        self.category = str(group.get("category", "custom"))
        self.severity = Severity.parse(str(group.get("severity", "WARNING")))
        self.what = str(group.get("what", "blocks the thread"))
        self.alternative = str(group.get("alternative", "an async alternative"))
        arg = group.get("nonblocking-arg")
        self.nonblocking: Optional[Tuple[str, int]] = (str(arg[0]), int(arg[1])) if arg else None
        self.exempt: FrozenSet[str] = frozenset(group.get("except", ()))
        # Conditions under which the call does no blocking I/O (see calls.toml's header).
        self.path_prefixes: Tuple[str, ...] = tuple(group.get("nonblocking-path-prefix", ()))
        self.only_keywords: FrozenSet[str] = frozenset(group.get("nonblocking-only-keywords", ()))
        self.if_imported = bool(group.get("nonblocking-if-imported", False))
        # False: a sync helper calling it is not blocking for ARV202 (a cost paid once, then cached).
        self.in_helpers = bool(group.get("in-helpers", True))


class Table:
    def __init__(self, data: Dict[str, Any], extra: Dict[str, Dict[str, str]]) -> None:
        self.calls: Dict[str, Entry] = {}
        self.any_method: Dict[str, Entry] = {}
        for group in data["group"]:
            entry = Entry(group)
            for name in group.get("calls", ()):
                self.calls[name] = entry
            for owner in group.get("types", ()):
                for method in group.get("methods", ()):
                    if method == "*":
                        self.any_method[owner] = entry
                    else:
                        self.calls[f"{owner}.{method}"] = entry
        for name, spec in extra.items():
            self.calls[name] = Entry({"category": "custom", **spec})
        self.offload: FrozenSet[str] = frozenset(data["offload"]["calls"])
        self.offload_methods: FrozenSet[str] = frozenset(data["offload"]["methods"])
        self.wrappers: FrozenSet[str] = frozenset(data["wrappers"]["calls"])
        self.memoized: FrozenSet[str] = frozenset(data["memoized"]["decorators"])
        # Heads a file may use without importing (snippets, star imports): `subprocess.run()`.
        self.modules: FrozenSet[str] = frozenset(
            n.split(".")[0] for n in [*self.calls, *self.any_method] if "." in n
        )

    def lookup(self, name: str) -> Optional[Entry]:
        entry = self.calls.get(name)
        if entry is None and "." in name:
            owner, method = name.rsplit(".", 1)
            star = self.any_method.get(owner)
            if star is not None and method not in star.exempt and not method.startswith("__"):
                entry = star
        return entry


def _extend_blocking_calls(value: Any) -> Dict[str, Dict[str, str]]:
    if not isinstance(value, dict):
        raise ValueError('expected a table such as {"mylib.fetch" = "mylib.afetch"}')
    table = {}
    for name, spec in value.items():
        if isinstance(spec, str):
            spec = {"alternative": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("alternative", ""), str):
            raise ValueError(f'{name!r}: expected an alternative string or {{alternative = "...", severity = "critical"}}')
        severity = Severity.parse(str(spec.get("severity", "warning"))).value
        table[str(name)] = {"alternative": f"`{spec.get('alternative', 'an async alternative')}`", "severity": severity}
    return table


def _max_depth(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        raise ValueError("expected a whole number from 1 to 50")
    return value


@functools.lru_cache(maxsize=32)
def _table(settings: Settings) -> Table:
    return Table(load_table("blocking", "calls"), settings.option("extend-blocking-calls") or {})


def _depth(settings: Settings) -> int:
    return int(settings.option("blocking-max-depth") or DEFAULT_DEPTH)


# -- the per-file pass -------------------------------------------------------------------------
class Frame:
    __slots__ = ("kind", "key", "node", "types", "declared", "defs", "owner", "receiver")

    def __init__(self, kind: str, key: str, node: Optional[cst.CSTNode] = None) -> None:
        self.kind = kind  # module, class, async, sync, memoized, lambda, offloaded
        self.key = key
        self.node = node
        self.types: Dict[str, Optional[str]] = {}  # what this rule knows beyond the NameResolver
        self.declared: Dict[str, Optional[str]] = {}  # annotated names keep their declared type
        self.defs: Dict[str, str] = {}  # nested functions and classes: local name -> key
        self.owner = ""  # for methods: the class key
        self.receiver = ""  # for methods: the name of `self`/`cls`


def _optional_inner(annotation: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """X for `Optional[X]`, `X | None`, `None | X`; None otherwise."""
    if isinstance(annotation, cst.Subscript) and dotted_name(annotation.value) in ("Optional", "typing.Optional"):
        if len(annotation.slice) == 1 and isinstance(annotation.slice[0].slice, cst.Index):
            return annotation.slice[0].slice.value
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        left, right = annotation.left, annotation.right
        if isinstance(right, cst.Name) and right.value == "None" and isinstance(left, (cst.Name, cst.Attribute)):
            return left
        if isinstance(left, cst.Name) and left.value == "None" and isinstance(right, (cst.Name, cst.Attribute)):
            return right
    return None


def _first_literal(call: cst.Call) -> str:
    """The first positional argument when it is a string literal, else ""."""
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        value = call.args[0].value
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
            text = value.evaluated_value
            return text if isinstance(text, str) else ""
    return ""


def _path_literal(call: cst.Call) -> str:
    """The path a call works on when the source spells it: `open("/proc/x")`, or a method of a
    path built on the spot, `Path("/proc/x").read_text()`."""
    func = call.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
        return _first_literal(func.value)
    return _first_literal(call)


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False" or isinstance(node, cst.Integer) and node.value == "0"


class BlockingCalls(Rule):
    codes = ("ARV201", "ARV202")
    family = "blocking"
    options = {"extend-blocking-calls": _extend_blocking_calls, "blocking-max-depth": _max_depth}

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # A file without `def` holds no coroutine and no helper a chain could pass through, unless
        # it re-exports one (`from .store import load` in a package's __init__.py).
        return Words("def", "import")

    @classmethod
    def report_prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # Both codes report at calls inside a coroutine; elsewhere a file only feeds the join.
        return Words("async")

    def __init__(self, context) -> None:
        super().__init__(context)
        self.table = _table(context.settings)
        self.frames: List[Frame] = [Frame("module", "")]
        self.exempt: Set[int] = set()  # awaited calls and wrapped files
        self.offloaded: Set[int] = set()  # lambdas handed to an offloader
        self.module: Optional[cst.Module] = None
        self.functions: Dict[str, int] = {}
        self.classes: Set[str] = set()
        # key -> (node, callee, entry) for the first most severe blocking call in a sync function
        self.direct: Dict[str, Tuple[cst.CSTNode, str, Entry]] = {}
        self.calls: Dict[str, Set[str]] = {}
        # coroutine key -> [(call node, ref, statement)]
        self.sites: Dict[str, List[Tuple[cst.Call, str, cst.CSTNode]]] = {}

    # -- frames --------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.module = node
        for statement in node.body:
            if isinstance(statement, cst.FunctionDef):
                self.frames[0].defs[statement.name.value] = statement.name.value
            elif isinstance(statement, cst.ClassDef):
                self.frames[0].defs[statement.name.value] = statement.name.value

    def _child_key(self, name: str) -> str:
        parent = self.frames[-1]
        return f"{parent.key}.{name}" if parent.key else name

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        parent = self.frames[-1]
        key = self._child_key(node.name.value)
        parent.defs[node.name.value] = key
        decorators = [d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator for d in node.decorators]
        memoized = any((self.names.qualify(d) or dotted_name(d)) in self.table.memoized for d in decorators)
        # A memoized helper blocks once, not on every call: it does not pass blocking on.
        frame = Frame("async" if node.asynchronous else ("memoized" if memoized else "sync"), key, node)
        self.functions[key] = 1 if node.asynchronous else 0
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        if parent.kind == "class" and params:
            decorators = {dotted_name(d.decorator) for d in node.decorators}
            if "staticmethod" not in decorators:
                frame.owner, frame.receiver = parent.key, params[0].name.value
        self.frames.append(frame)
        for param in params:
            frame.types[param.name.value] = None  # a parameter hides the same name outside
            if param.annotation is not None:
                self._declare(param.name.value, param.annotation.annotation)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        key = self._child_key(node.name.value)
        self.frames[-1].defs[node.name.value] = key
        self.classes.add(key)
        self.frames.append(Frame("class", key, node))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        kind = "offloaded" if id(node) in self.offloaded else "lambda"
        frame = Frame(kind, self.frames[-1].key, node)
        for param in node.params.params:
            frame.types[param.name.value] = None
        self.frames.append(frame)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def _function(self) -> Optional[Frame]:
        """The function a call here belongs to; None at module or class level or when offloaded."""
        for frame in reversed(self.frames):
            if frame.kind in ("async", "sync"):
                return frame
            if frame.kind in ("offloaded", "class", "module", "memoized"):
                return None
        return None

    # -- types the NameResolver does not keep ------------------------------------------------------
    def _declare(self, name: str, annotation: cst.BaseExpression) -> None:
        inner = _optional_inner(annotation) or annotation
        declared = self.names.annotation_type(inner) if isinstance(inner, (cst.Name, cst.Attribute)) else None
        # An annotation without a known type (`f: int`) hides an earlier declaration.
        self.frames[-1].declared[name] = declared or self._unimported(inner)

    def _unimported(self, node: cst.BaseExpression) -> Optional[str]:
        """`subprocess.run` in a file that never imports subprocess: take the table's module."""
        dotted = dotted_name(node)
        if not dotted or "." not in dotted:
            return None
        head = dotted.split(".")[0]
        if head in self.table.modules and head not in self.names.aliases and not self.names.is_shadowed(head):
            return dotted
        return None

    def _frame_type(self, name: str) -> Optional[str]:
        for frame in reversed(self.frames):
            if name in frame.types:
                return frame.types[name] or frame.declared.get(name)
            if name in frame.declared:
                return frame.declared[name]
        return None

    def _value_type(self, value: cst.BaseExpression) -> Optional[str]:
        if isinstance(value, cst.Call):
            return self.names.call_result_type(value) or self._unimported_call_type(value)
        if isinstance(value, cst.Name):
            return self.names.local_type(value.value) or self._frame_type(value.value)
        return None

    def _unimported_call_type(self, call: cst.Call) -> Optional[str]:
        callee = self._unimported(call.func)
        if callee and callee.rsplit(".", 1)[-1][:1].isupper():
            return callee
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        value_type = self._value_type(node.value)
        for target in node.targets:
            self._bind(target.target, value_type)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name):
            self._declare(node.target.value, node.annotation.annotation)
            if node.value is not None:
                self.frames[-1].types[node.target.value] = self._value_type(node.value)

    # -- calls -------------------------------------------------------------------------------
    def visit_Await(self, node: cst.Await) -> None:
        # An awaited call returns an awaitable: whatever its name, it is an async variant.
        if isinstance(node.expression, cst.Call):
            self.exempt.add(id(node.expression))

    def _bound(self, name: str) -> Tuple[bool, Optional[str]]:
        """(bound in a function or class seen so far, its type): this rule sees every binding
        form (loops, unpacking, except-as, walrus), so its answer wins over the NameResolver's."""
        for frame in reversed(self.frames):
            if frame.kind == "module":
                return False, None
            if name in frame.types:
                return True, frame.types[name] or frame.declared.get(name)
            if name in frame.declared:
                return True, frame.declared[name]
        return False, None

    def _bind(self, target: cst.BaseExpression, type_name: Optional[str] = None) -> None:
        if isinstance(target, cst.Name):
            self.frames[-1].types[target.value] = type_name
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, self._value_type(node.value))

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            value_type = self._value_type(node.item) if isinstance(node.item, cst.Call) else None
            self._bind(node.asname.name, value_type)

    def _callee(self, func: cst.BaseExpression) -> Optional[str]:
        dotted = dotted_name(func)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            bound, known = self._bound(head)
            if bound:
                return f"{known}.{rest}" if known and rest else None
        name = self.names.qualify(func)
        if name is None and isinstance(func, cst.Name):
            name = self.names.builtin(func)
            if name is not None and name in self.frames[0].defs:
                name = None
        if name is None and isinstance(func, cst.Attribute):
            if isinstance(func.value, cst.Call):
                owner = self.names.call_result_type(func.value) or self._unimported_call_type(func.value)
                return f"{owner}.{func.attr.value}" if owner else None
            dotted = dotted_name(func)
            if dotted:
                head, _, rest = dotted.partition(".")
                known = self._frame_type(head)
                if known:
                    return f"{known}.{rest}"
                return self._unimported(func)
        return name

    def visit_Call(self, node: cst.Call) -> None:
        callee = self._callee(node.func)
        method = node.func.attr.value if isinstance(node.func, cst.Attribute) else ""
        if callee in self.table.offload or method in self.table.offload_methods:
            for arg in node.args:
                if isinstance(arg.value, cst.Lambda):
                    self.offloaded.add(id(arg.value))
        if callee in self.table.wrappers:
            for arg in node.args:
                self.exempt.add(id(arg.value))
        function = self._function()
        if function is None or id(node) in self.exempt:
            return
        entry = self.table.lookup(callee) if callee else None
        if entry is not None and not self._nonblocking(node, entry):
            self._blocking(node, callee or "", entry, function)
            return
        ref = self._project_ref(node.func, callee)
        if ref is None:
            return
        if function.kind == "async":
            statement = self.context.statements[-1] if self.context.statements else node
            self.sites.setdefault(function.key, []).append((node, ref, statement, self.context.place))
        else:
            self.calls.setdefault(function.key, set()).add(ref)

    def _nonblocking(self, node: cst.Call, entry: Entry) -> bool:
        if entry.path_prefixes and _path_literal(node).startswith(entry.path_prefixes):
            return True
        if entry.only_keywords and node.args and all(
            arg.keyword is not None and arg.keyword.value in entry.only_keywords for arg in node.args
        ):
            return True
        if entry.if_imported and self._already_imported(_first_literal(node)):
            return True
        if entry.nonblocking is None:
            return False
        keyword, position = entry.nonblocking
        for index, arg in enumerate(node.args):
            if arg.keyword is not None and arg.keyword.value == keyword and _is_false(arg.value):
                return True
            if arg.keyword is None and arg.star == "" and index == position and _is_false(arg.value):
                return True
            if arg.keyword is not None and arg.keyword.value == "timeout" and _is_false(arg.value):
                return True
        return False

    def _already_imported(self, module: str) -> bool:
        """`importlib.import_module("json")` in a file that imports json: a dictionary lookup."""
        if not module:
            return False
        return any(name == module or name.startswith(f"{module}.") for name in self.names.aliases.values())

    def _blocking(self, node: cst.Call, callee: str, entry: Entry, function: Frame) -> None:
        if function.kind == "async":
            coroutine = function.key.rsplit(".", 1)[-1]
            self.report(
                node,
                f"`{callee}()` {entry.what} inside coroutine `{coroutine}()`, stalling every task on the "
                f"event loop. Instead: {entry.alternative}.",
                code="ARV201",
                severity=entry.severity,
                kind=callee,
            )
            return
        if entry.severity.rank < Severity.WARNING.rank or not entry.in_helpers:
            return  # a suggestion-level or once-only entry is not enough to call a whole helper blocking
        known = self.direct.get(function.key)
        if known is None or _RANK[entry.severity.value] > _RANK[known[2].severity.value]:
            self.direct[function.key] = (node, callee, entry, self.context.place)

    def _project_ref(self, func: cst.BaseExpression, callee: Optional[str]) -> Optional[str]:
        """`@key` for a function of this file, a qualified name for one imported from elsewhere."""
        dotted = dotted_name(func)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        for frame in reversed(self.frames):
            if frame.receiver and head == frame.receiver and rest and "." not in rest:
                return f"@{frame.owner}.{rest}"
            if head in frame.defs and frame.kind != "class":
                return f"@{frame.defs[head]}.{rest}" if rest else f"@{frame.defs[head]}"
        if head in self.names.aliases and callee:
            top = callee.lstrip(".").split(".")[0]
            if callee.startswith(".") or top not in _STDLIB:
                return callee
        return None

    # -- the summary ---------------------------------------------------------------------------
    def leave_Module(self, node: cst.Module) -> None:
        calls = {key: sorted(refs) for key, refs in self.calls.items()}
        imports = {k: v for k, v in self.names.aliases.items() if v.startswith(".") or v.split(".")[0] not in _STDLIB}
        summary: Dict[str, Any] = {"functions": self.functions, "classes": sorted(self.classes), "calls": calls,
                                   "direct": {}, "sites": {}, "imports": imports}
        self.context.summary[self.family] = summary
        if not (self.direct or self.sites):
            return
        locator = self.context.locator
        lines = self.context.text.splitlines()

        def where(target: cst.CSTNode, place: Tuple[cst.CSTNode, ...]) -> List[int]:
            spot = locator.where(target, place)
            return [spot.start.line, spot.start.column + 1, spot.end.line, spot.end.column + 1]

        for key, (call, callee, entry, place) in self.direct.items():
            line = where(call, place)
            summary["direct"][key] = line + [callee, entry.severity.value, entry.alternative, lines[line[0] - 1].strip()]
        graph = Graph({"": summary}, max_depth=_depth(self.context.settings), local_only=True)
        for key, found in self.sites.items():
            kept = []
            for call, ref, statement, place in found:
                chain, complete = graph.chain("", key, ref)
                if chain is not None:
                    self._report_chain(call, statement, key, chain, place)
                elif not complete:
                    spot = where(call, place)
                    statement_at = locator.where(statement, place)
                    stmt_line = statement_at.start.line if statement_at is not None else spot[0]
                    text = "\n".join(lines[spot[0] - 1 : min(spot[2], spot[0] + 11)])
                    kept.append([ref] + spot + [stmt_line, text])
            if kept:
                summary["sites"][key] = kept

    def _report_chain(self, call: cst.Call, statement: cst.CSTNode, key: str, chain: List[Link], place: Tuple[cst.CSTNode, ...]) -> None:
        if "ARV202" not in self.context.settings.enabled:
            return
        message, severity, extra = describe(key, chain, "")
        self.context.reports.append(Report(call, "ARV202", message, severity, statement, extra, place))

    # -- the project join ----------------------------------------------------------------------
    @classmethod
    def project_findings(cls, files: ProjectSummaries, settings: Dict[str, Settings]) -> List[Finding]:
        depth = max((_depth(s) for s in settings.values()), default=DEFAULT_DEPTH)
        graph = Graph(files, max_depth=depth, local_only=False)
        findings = []
        for path, summary in files.at_hand():  # a pending file has no call sites in coroutines
            file_settings = settings.get(path)
            if file_settings is None or "ARV202" not in file_settings.enabled:
                continue
            graph.max_depth = _depth(file_settings)
            for key, sites in summary.get("sites", {}).items():
                for ref, line, column, end_line, end_column, stmt_line, text in sites:
                    chain, _ = graph.chain(path, key, ref)
                    if chain is None:
                        continue
                    message, severity, extra = describe(key, chain, path)
                    findings.append(Finding(
                        path=path, line=line, column=column, end_line=end_line, end_column=end_column,
                        code="ARV202", severity=severity, message=message,
                        snippet=f"{text}\n{extra}", statement_line=stmt_line,
                    ))
        return findings


# -- the call graph ----------------------------------------------------------------------------
# One step of a chain: (path, function key, direct entry or None).
Link = Tuple[str, str, Optional[List[Any]]]


@functools.lru_cache(maxsize=1 << 16)
def _module_parts(path: str) -> Tuple[str, ...]:
    """A path's module name, as parts (callers ask again for every call that leaves the file)."""
    text = path.replace("\\", "/")
    for suffix in (".pyi", ".py"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    parts = [p for p in text.split("/") if p not in ("", ".", "..")]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return tuple(parts)


@functools.lru_cache(maxsize=2)
def _module_index(paths: Tuple[str, ...]) -> Tuple[Dict[str, List[str]], Dict[str, bool]]:
    """Every dotted suffix of every path's module name -> the paths it may name; and which paths
    are packages. Built once for the project, however many joins run on it."""
    modules: Dict[str, List[str]] = {}
    is_package = {}
    for path in paths:
        parts = _module_parts(path)
        is_package[path] = path.replace("\\", "/").rsplit("/", 1)[-1].startswith("__init__.")
        for start in range(len(parts)):
            modules.setdefault(".".join(parts[start:]), []).append(path)
    return modules, is_package


class Graph:
    """Sync functions of the project and the calls between them, joined from file summaries."""

    def __init__(self, files: Mapping[str, Any], max_depth: int, local_only: bool) -> None:
        self.files = files
        self.max_depth = max_depth
        self.local_only = local_only
        self.modules, self.is_package = _module_index(tuple(files))
        self.edges: Dict[Tuple[str, str], List[Tuple[str, str]]] = {}
        self.cache: Dict[Tuple[str, str, int], Tuple[Optional[List[Link]], bool]] = {}

    def _module(self, caller: str, name: str) -> Optional[str]:
        paths = self.modules.get(name)
        if not paths:
            return None
        if len(paths) == 1:
            return paths[0]
        return max(paths, key=lambda p: (len(_common(p, caller)), -len(p)))

    def _absolute(self, caller: str, ref: str) -> str:
        dots = len(ref) - len(ref.lstrip("."))
        if not dots:
            return ref
        parts = _module_parts(caller)
        package = parts if self.is_package.get(caller) else parts[:-1]
        if dots - 1 > len(package):
            return ""  # climbs above the analyzed tree
        package = package[: len(package) - (dots - 1)]
        rest = ref[dots:]
        return ".".join([*package, rest] if rest else package)

    def resolve(self, caller: str, ref: str, hops: int = 0) -> Optional[Tuple[str, str]]:
        """The (path, key) of the sync function a call refers to, or None when it is not ours."""
        if ref.startswith("@"):
            return self._member(caller, ref[1:], hops)
        if self.local_only or hops > 4:
            return None
        parts = [p for p in self._absolute(caller, ref).split(".") if p]
        for cut in range(len(parts) - 1, 0, -1):
            path = self._module(caller, ".".join(parts[:cut]))
            if path is not None:
                return self._member(path, ".".join(parts[cut:]), hops)
        return None

    def _member(self, path: str, key: str, hops: int) -> Optional[Tuple[str, str]]:
        summary = self.files.get(path)
        if summary is None:
            return None
        functions = summary.get("functions", {})
        if key in functions:
            return (path, key) if functions[key] == 0 else None
        if key in summary.get("classes", ()):
            init = f"{key}.__init__"
            return (path, init) if functions.get(init) == 0 else None
        head, _, rest = key.partition(".")
        target = summary.get("imports", {}).get(head)
        if target and not self.local_only:  # re-exported: `from .store import load` in __init__.py
            return self.resolve(path, f"{target}.{rest}" if rest else target, hops + 1)
        return None

    def _callees(self, node: Tuple[str, str]) -> List[Tuple[str, str]]:
        if node not in self.edges:
            path, key = node
            refs = self.files[path].get("calls", {}).get(key, ())
            found = []
            for ref in refs:
                target = self.resolve(path, ref)
                if target is not None and target != node:
                    found.append(target)
            self.edges[node] = found
        return self.edges[node]

    def _incomplete(self, node: Tuple[str, str]) -> bool:
        refs = self.files[node[0]].get("calls", {}).get(node[1], ())
        return any(not ref.startswith("@") for ref in refs)

    def chain(self, caller: str, key: str, ref: str) -> Tuple[Optional[List[Link]], bool]:
        """The shortest chain from a call site to a blocking call, within the depth limit (or None),
        and whether the answer is final (False: a call leaves the file and local_only was set)."""
        start = self.resolve(caller, ref)
        if start is None:
            return None, not (self.local_only and not ref.startswith("@"))
        cached = self.cache.get((*start, self.max_depth))
        if cached is not None:
            return cached
        parents: Dict[Tuple[str, str], Optional[Tuple[str, str]]] = {start: None}
        queue = deque([(start, 1)])
        complete = True
        found = None
        while queue:
            node, depth = queue.popleft()
            direct = self.files[node[0]].get("direct", {}).get(node[1])
            if direct is not None:
                found = node
                break
            if self.local_only and self._incomplete(node):
                complete = False
            if depth >= self.max_depth:
                continue
            for callee in self._callees(node):
                if callee not in parents:  # recursion and diamonds stop here
                    parents[callee] = node
                    queue.append((callee, depth + 1))
        result: Tuple[Optional[List[Link]], bool]
        if found is None:
            result = (None, complete)
        else:
            links: List[Link] = []
            step: Optional[Tuple[str, str]] = found
            while step is not None:
                links.append((step[0], step[1], None))
                step = parents[step]
            links.reverse()
            last = links[-1]
            links[-1] = (last[0], last[1], self.files[last[0]]["direct"][last[1]])
            result = (links, True)
        self.cache[(*start, self.max_depth)] = result
        return result


def _common(a: str, b: str) -> str:
    size = 0
    for x, y in zip(a, b):
        if x != y:
            break
        size += 1
    return a[:size]


def describe(key: str, chain: List[Link], caller_path: str) -> Tuple[str, Severity, str]:
    """Message, severity and snippet evidence of a chain `handler() -> _load() -> open()`."""
    path, helper_key, direct = chain[-1]
    assert direct is not None
    line, _, _, _, callee, severity, alternative, text = direct
    names = [key] + [k for _, k, _ in chain] + [callee]
    arrow = " -> ".join(f"{n}()" for n in names)
    where = f"{path}:{line}" if path and path != caller_path else f"line {line}"
    first = chain[0][1]
    level = Severity(severity)
    if level.rank > Severity.WARNING.rank:
        level = Severity.WARNING
    message = (
        f"Coroutine `{names[0]}()` blocks the event loop through a sync helper: {arrow} ({where}). "
        f"Instead: make `{first}` async, or call it with `await asyncio.to_thread({first}, ...)`; "
        f"for `{callee}()` use {alternative}."
    )
    label = f"{path}:{line}" if path else f"line {line}"
    extra = f"# {label} (in {helper_key}):\n{text}"
    return message, level, extra


RULES = [BlockingCalls]
