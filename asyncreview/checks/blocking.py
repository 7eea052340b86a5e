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
from asyncreview.checks import blocking_fixes
from asyncreview.config import Settings
from asyncreview.finding import Finding, Severity
from asyncreview.names import TypeExpr, dotted_name, project_like, reduce_type, type_step
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
        self.polling_handlers: FrozenSet[str] = frozenset(data["polling"]["handlers"])
        self.polling_waits: FrozenSet[str] = frozenset(data["polling"]["waits"])
        # Methods a receiver whose type only the join knows may block on (a "*" group: every
        # method the type has); other calls on such receivers are not kept for the join.
        self.method_names: FrozenSet[str] = frozenset(
            name.rsplit(".", 1)[1] for name in self.calls if "." in name
        ) | frozenset(m for owner, e in self.any_method.items() for m in _methods_of(owner) if m not in e.exempt)
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


def _methods_of(owner: str) -> FrozenSet[str]:
    """The public methods of a stdlib class named in the table (io, typing: already imported)."""
    module, _, name = owner.rpartition(".")
    found = getattr(sys.modules.get(module), name, None)
    return frozenset(m for m in dir(found) if not m.startswith("_")) if found is not None else frozenset()


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


def _generics() -> Dict[str, List[str]]:
    return load_table("common", "types")["generics"]


@functools.lru_cache(maxsize=1)
def _first_argument_callers() -> FrozenSet[str]:
    return frozenset(load_table("common", "types")["returns-of-first-argument"]["calls"])


def _depth(settings: Settings) -> int:
    return int(settings.option("blocking-max-depth") or DEFAULT_DEPTH)


# -- the per-file pass -------------------------------------------------------------------------
class Frame:
    __slots__ = ("kind", "key", "node", "types", "declared", "defs", "owner", "receiver", "params", "exits",
                 "origins", "polls", "held", "offloads")

    def __init__(self, kind: str, key: str, node: Optional[cst.CSTNode] = None) -> None:
        self.kind = kind  # module, class, async, sync, memoized, lambda, offloaded
        self.key = key
        self.node = node
        self.types: Dict[str, Optional[str]] = {}  # what this rule knows beyond the NameResolver
        self.declared: Dict[str, Optional[str]] = {}  # annotated names keep their declared type
        self.defs: Dict[str, str] = {}  # nested functions and classes: local name -> key
        self.owner = ""  # for methods: the class key
        self.receiver = ""  # for methods: the name of `self`/`cls`
        self.params: List[str] = []  # as callers pass them (without `self`)
        self.exits: List[List[Any]] = []  # guards of `if not ok(param): raise` at the top of the body
        # A function that drives non-blocking sockets (calls.toml [polling]): its socket calls,
        # held until the function is left (a coroutine's reports, a helper's candidates for
        # its worst call), count only if it turns out not to.
        self.polls = False
        self.held: List[Any] = []
        # Callables this function hands to a thread (`run_in_threadpool(self.file.write, data)`):
        # calling the same one directly elsewhere in it is a deliberate choice (starlette's
        # UploadFile writes in place while the file is in memory, through a thread otherwise).
        self.offloads: Set[str] = set()
        # (name, type) -> guards the binding sat behind: `if isinstance(file, str): f = open(file)`
        # makes every blocking call on that `f` as guarded as the open() itself.
        self.origins: Dict[Tuple[str, str], List[List[Any]]] = {}


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


class NestedKeys:
    """Functions and classes named by their dotted path in the module (`Class.method`,
    `outer.inner`): the names project summaries and joins use. `frames` holds the enclosing
    definitions, each with its `key` and the `defs` bound in it."""

    frames: List[Any]

    def _child_key(self, name: str) -> str:
        parent = self.frames[-1]
        return f"{parent.key}.{name}" if parent.key else name

    def _define(self, name: str) -> str:
        """Bind a definition in the enclosing frame; its key."""
        key = self._child_key(name)
        self.frames[-1].defs[name] = key
        return key


class BlockingCalls(NestedKeys, Rule):
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
        self.polling: Set[str] = set()  # coroutines that drive non-blocking sockets (calls.toml [polling])
        self.classes: Set[str] = set()
        # key -> (node, callee, entry) for the first most severe blocking call in a sync function
        self.direct: Dict[str, Tuple[cst.CSTNode, str, Entry]] = {}
        self.calls: Dict[str, Set[str]] = {}
        # coroutine key -> [(call node, ref, statement)]
        self.sites: Dict[str, List[Tuple[cst.Call, str, cst.CSTNode]]] = {}
        # What this module declares, for receivers typed elsewhere: "ret:<function key>",
        # "attr:<class key>.<name>", "const:<name>" -> type expression.
        self.declares: Dict[str, TypeExpr] = {}
        # Method calls on a receiver whose type needs the module's declarations (or another's):
        # (function frame, call, receiver type, statement, place).
        self.typed: List[Tuple[Frame, cst.Call, TypeExpr, cst.CSTNode, Tuple[cst.CSTNode, ...]]] = []
        # Checks on parameters the code being walked sits behind: (function frame, guards).
        self.guards: List[Tuple[Frame, List[List[Any]]]] = []
        self.args: Dict[str, Dict[str, List[List[Any]]]] = {}  # helper key -> ref -> argument facts
        self.params: Dict[str, List[str]] = {}  # helper key -> parameters as callers pass them
        # if statements being walked: (frame, its types before the test, types at the end of each
        # branch that falls through), so a name bound differently on two branches is both after.
        self.branches: List[Tuple[Frame, Dict[str, TypeExpr], List[Dict[str, TypeExpr]]]] = []

    # -- frames --------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.module = node
        for statement in node.body:
            if isinstance(statement, cst.FunctionDef):
                self.frames[0].defs[statement.name.value] = statement.name.value
            elif isinstance(statement, cst.ClassDef):
                self.frames[0].defs[statement.name.value] = statement.name.value

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        parent = self.frames[-1]
        key = self._define(node.name.value)
        decorators = self.names.decorators(node)
        memoized = any(name in self.table.memoized for name in decorators)
        # A memoized helper blocks once, not on every call: it does not pass blocking on.
        frame = Frame("async" if node.asynchronous else ("memoized" if memoized else "sync"), key, node)
        self.functions[key] = 1 if node.asynchronous else 0
        if node.returns is not None:
            returned = self._annotation(node.returns.annotation)
            names = set(decorators)
            if returned is not None and names & set(_generics()["context-managers"]):
                returned = ("cm", type_step("elem", returned, ()) if not isinstance(returned, str) else None)
            if returned is not None and returned != ("cm", None):
                self.declares[f"ret:{key}"] = returned
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        if parent.kind == "class" and params:
            decorators = {dotted_name(d.decorator) for d in node.decorators}
            if "staticmethod" not in decorators:
                frame.owner, frame.receiver = parent.key, params[0].name.value
        self.frames.append(frame)
        frame.params = [p.name.value for p in params[1 if frame.receiver else 0:]]
        if frame.kind == "sync" and frame.params:
            self.params[key] = frame.params
        for param in params:
            frame.types[param.name.value] = None  # a parameter hides the same name outside
            if param.annotation is not None:
                self._declare(param.name.value, param.annotation.annotation)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = self.frames.pop()
        if frame.polls:
            self.polling.add(frame.key)
        if frame.kind == "async":
            self.context.reports.extend(report for report, text, socket in frame.held if _counts(frame, text, socket))
        elif not frame.polls:
            for candidate in frame.held:
                self._remember_direct(frame.key, candidate)

    def _note_handler(self, node: cst.ExceptHandler) -> None:
        caught = node.type.elements if isinstance(node.type, cst.Tuple) else [node.type] if node.type else []
        names = {(dotted_name(c.value if isinstance(c, cst.Element) else c) or "").rsplit(".", 1)[-1] for c in caught}
        if names & self.table.polling_handlers:
            self._mark_polling()

    def _mark_polling(self) -> None:
        function = self._function()
        if function is not None:
            function.polls = True

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        key = self._define(node.name.value)
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
        # An annotation without a known type (`f: int`) hides an earlier declaration.
        self.frames[-1].declared[name] = self._annotation(annotation)

    def _annotation(self, annotation: cst.BaseExpression) -> TypeExpr:
        """The type an annotation declares: `Path`, `Optional[Path]`, `list[Path]`,
        `dict[Path, float]`, `Iterator[Path]`, a class of this module or of the project."""
        inner = _optional_inner(annotation) or annotation
        if isinstance(inner, (cst.Name, cst.Attribute)):
            head = dotted_name(inner) or ""
            if "." not in head and head in self.frames[0].defs and not self._bound(head)[0]:
                return ("call", f"@{self.frames[0].defs[head]}")  # a class of this module
            return self.names.annotation_type(inner) or self._unimported(inner)
        if not isinstance(inner, cst.Subscript):
            return None
        generic = self.names.qualify(inner.value) or self.names.builtin(inner.value)
        args = [e.slice.value for e in inner.slice if isinstance(e.slice, cst.Index)]
        if not args or len(args) != len(inner.slice):
            return None
        if generic in _generics()["wrappers"]:
            return self._annotation(args[0])
        if generic in _generics()["mappings"] and len(args) == 2:
            key, value = self._annotation(args[0]), self._annotation(args[1])
            return ("dict", key, value) if key or value else None
        if generic in ("tuple", "typing.Tuple") and not (len(args) == 2 and isinstance(args[1], cst.Ellipsis)):
            items = [self._annotation(a) for a in args]
            return ("tuple", *items) if any(items) else None
        if generic in _generics()["context-types"]:
            item = self._annotation(args[0])
            return ("cm", item) if item else None
        if generic in _generics()["iterables"]:
            item = self._annotation(args[0])
            return ("iter", item) if item else None
        return None

    def _unimported(self, node: cst.BaseExpression) -> Optional[str]:
        """`subprocess.run` in a file that never imports subprocess: take the table's module."""
        dotted = dotted_name(node)
        if not dotted or "." not in dotted:
            return None
        head = dotted.split(".")[0]
        if head in self.table.modules and head not in self.names.aliases and not self.names.is_shadowed(head):
            return dotted
        return None

    def _frame_type(self, name: str) -> TypeExpr:
        for frame in reversed(self.frames):
            if name in frame.types:
                return frame.types[name] or frame.declared.get(name)
            if name in frame.declared:
                return frame.declared[name]
        return None

    def _value_type(self, value: cst.BaseExpression) -> TypeExpr:
        if isinstance(value, cst.Await) and isinstance(value.expression, cst.Call):
            # `await asyncio.to_thread(f, x)` gives what `f(x)` gives (ARV201's own fix writes it)
            call = value.expression
            first = call.args[0] if call.args else None
            if first is not None and first.keyword is None and not first.star and \
                    self.names.qualify(call.func) in _first_argument_callers():
                return self._value_type(cst.Call(func=first.value))
            return None
        if isinstance(value, cst.Call):
            return self.names.call_result_type(value) or self._unimported_call_type(value) or self._expr_type(value)
        if isinstance(value, cst.Name):
            return self.names.local_type(value.value) or self._frame_type(value.value) or self._expr_type(value)
        return self._expr_type(value)

    def _expr_type(self, node: cst.BaseExpression) -> TypeExpr:
        """What the module knows of an expression's type, finished here when it can be (`p.parent`,
        `base / name`), else as a type expression the join finishes (`config_dir()`, `self.root`)."""
        if isinstance(node, cst.Name):
            bound, known = self._bound(node.value)
            if bound:
                return known
            known = self.names.local_type(node.value) or self._frame_type(node.value)
            if known is not None:
                return known
            ref = self._project_ref(node, self.names.qualify(node))
            return ("name", ref) if ref and not ref.startswith("@") else None
        if isinstance(node, cst.Attribute):
            receiver = self._receiver_frame(node.value)
            if receiver is not None:
                return ("attr", ("call", f"@{receiver.owner}"), node.attr.value)
            dotted = dotted_name(node)
            if dotted and dotted.partition(".")[0] in self.names.aliases and not self._bound(dotted.partition(".")[0])[0]:
                qualified = self.names.qualify(node)
                ref = self._project_ref(node, qualified)
                return ("name", ref) if ref and not ref.startswith("@") else None
            return self._step("attr", self._expr_type(node.value), node.attr.value)
        if isinstance(node, cst.Call):
            known = self.names.call_result_type(node) or self._unimported_call_type(node)
            if known:
                return known
            func = node.func
            if isinstance(func, cst.Attribute) and self._receiver_frame(func.value) is None:
                base = self._expr_type(func.value)
                if base is not None:
                    return self._step("meth", base, func.attr.value)
            ref = self._project_ref(func, self.names.qualify(func))
            return ("call", ref) if ref else None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
            return self._step("div", self._expr_type(node.left))
        return None

    def _step(self, kind: str, base: TypeExpr, *rest: Any) -> TypeExpr:
        return None if base is None else reduce_type((kind, base, *rest))

    def _receiver_frame(self, node: cst.BaseExpression) -> Optional[Frame]:
        """The method frame whose `self` (or `cls`) `node` is, if it is one."""
        if isinstance(node, cst.Name):
            for frame in reversed(self.frames):
                if frame.kind in ("class", "module"):
                    return None
                if frame.receiver:
                    return frame if node.value == frame.receiver else None
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
            self._record(target.target, value_type, annotated=False)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        declared = self._annotation(node.annotation.annotation)
        if isinstance(node.target, cst.Name):
            self.frames[-1].declared[node.target.value] = declared
            if node.value is not None:
                self.frames[-1].types[node.target.value] = self._value_type(node.value)
        self._record(node.target, declared, annotated=True)

    def _record(self, target: cst.BaseExpression, type_expr: TypeExpr, annotated: bool) -> None:
        """Declarations other code may read: module constants, class fields (dataclass,
        NamedTuple, TypedDict: all class-level annotations), `self.x` set in a method."""
        if type_expr is None:
            return
        frame = self.frames[-1]
        fact = None
        if isinstance(target, cst.Name) and frame.kind == "module":
            fact = f"const:{target.value}"
        elif isinstance(target, cst.Name) and frame.kind == "class":
            fact = f"attr:{frame.key}.{target.value}"
        elif isinstance(target, cst.Attribute) and self._receiver_frame(target.value) is not None:
            fact = f"attr:{self._receiver_frame(target.value).owner}.{target.attr.value}"  # type: ignore[union-attr]
        if fact is not None and (annotated or fact not in self.declares):
            self.declares[fact] = type_expr
        elif fact is not None and not annotated and self.declares[fact] != type_expr:
            # set to two types in two places (a file here, a BytesIO there): neither is known
            self.declares[fact] = ("union", self.declares[fact], type_expr)

    # -- guards: checks on a helper's own parameters ---------------------------------------------
    def _checks(self, test: cst.BaseExpression, holds: bool) -> List[List[Any]]:
        """Guards `test` (or its negation) puts on the parameters of the function being walked:
        [param, kind, data, negated, test node]; [] for a test that says nothing this rule reads."""
        function = self._function()
        if function is None or function.kind != "sync":
            return []
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self._checks(test.expression, not holds)
        if isinstance(test, cst.BooleanOperation):
            both = isinstance(test.operator, cst.And) if holds else isinstance(test.operator, cst.Or)
            return self._checks(test.left, holds) + self._checks(test.right, holds) if both else []
        found = _parameter_check(test, function.params)
        if found is None:
            return []
        param, kind, data = found
        return [[param, kind, data, not holds, test]]  # the test's text is written only if reported

    def _push_guards(self, test: cst.BaseExpression, holds: bool) -> None:
        function = self._function()
        self.guards.append((function, self._checks(test, holds)))  # type: ignore[arg-type]

    def _pop_guards(self, node: cst.CSTNode) -> None:
        self.guards.pop()

    def visit_If(self, node: cst.If) -> None:
        frame = self.frames[-1]
        self.branches.append((frame, dict(frame.types), []))

    def leave_If(self, node: cst.If) -> None:
        frame, _, outcomes = self.branches.pop()
        if not (isinstance(node.orelse, cst.Else) and _exits(node.orelse.body)):
            outcomes.append(frame.types)
        if outcomes:
            frame.types = _merge(outcomes)

    def visit_If_body(self, node: cst.If) -> None:
        self._push_guards(node.test, True)

    def leave_If_body(self, node: cst.If) -> None:
        self.guards.pop()
        frame, before, outcomes = self.branches[-1]
        if not _exits(node.body):
            outcomes.append(frame.types)
        frame.types = dict(before)  # the else branch starts from what held before the test
        function = self._function()
        if function is not None and node.orelse is None and _exits(node.body) and function.node is not None \
                and any(statement is node for statement in function.node.body.body):  # type: ignore[attr-defined]
            function.exits.extend(self._checks(node.test, False))

    def visit_If_orelse(self, node: cst.If) -> None:
        self._push_guards(node.test, False)

    leave_If_orelse = _pop_guards

    def visit_IfExp_body(self, node: cst.IfExp) -> None:
        self._push_guards(node.test, True)

    leave_IfExp_body = _pop_guards

    def visit_IfExp_orelse(self, node: cst.IfExp) -> None:
        self._push_guards(node.test, False)

    leave_IfExp_orelse = _pop_guards

    def visit_BooleanOperation_right(self, node: cst.BooleanOperation) -> None:
        self._push_guards(node.left, isinstance(node.operator, cst.And))  # `a or b()`: b runs when not a

    leave_BooleanOperation_right = _pop_guards

    def _origin_guards(self, node: cst.Call, callee: str, function: Frame) -> List[List[Any]]:
        """The guards the receiver's binding sat behind (`f.read()` after a guarded `f = open()`)."""
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            return function.origins.get((func.value.value, callee.rsplit(".", 1)[0]), [])
        return []

    def _active_guards(self, function: Frame) -> List[List[Any]]:
        return [*function.exits, *(g for frame, guards in self.guards if frame is function for g in guards)]

    def _arg_facts(self, call: cst.Call, function: Frame) -> List[Any]:
        """What the caller passes, as far as a guard can use it: [positional facts, {keyword: fact}]."""
        positional: List[Any] = []
        keywords: Dict[str, Any] = {}
        for arg in call.args:
            if arg.star:
                break
            fact = _literal_fact(arg.value)
            if fact is None and isinstance(arg.value, cst.Name):
                if arg.value.value in function.params and not self._frame_type(arg.value.value):
                    fact = ["p", arg.value.value]
                else:
                    known = self._value_type(arg.value)
                    fact = ["t", known] if isinstance(known, str) else None
            elif fact is None and isinstance(arg.value, cst.Call):
                known = self._value_type(arg.value)
                fact = ["t", known] if isinstance(known, str) else None
            if arg.keyword is not None:
                keywords[arg.keyword.value] = fact
            else:
                positional.append(fact)
        return [positional, keywords]

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

    def _bind(self, target: cst.BaseExpression, type_name: TypeExpr = None) -> None:
        if isinstance(target, cst.Name):
            frame = self.frames[-1]
            frame.types[target.value] = type_name
            if isinstance(type_name, str) and frame.kind == "sync":
                frame.origins[(target.value, type_name)] = self._active_guards(frame)
        elif isinstance(target, (cst.Tuple, cst.List)):
            starred = any(isinstance(e, cst.StarredElement) for e in target.elements)
            for index, element in enumerate(target.elements):
                part = self._step("part", type_name, index) if type_name is not None and not starred else None
                self._bind(element.value, part)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def _item_type(self, iterable: cst.BaseExpression) -> TypeExpr:
        return self._step("elem", self._expr_type(iterable))

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, self._item_type(node.iter))

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target, self._item_type(node.iter))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, self._value_type(node.value))

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)
        self._note_handler(node)

    visit_ExceptStarHandler = visit_ExceptHandler  # type: ignore[assignment]

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            value_type = self._value_type(node.item) if isinstance(node.item, cst.Call) else None
            if value_type is not None and not isinstance(value_type, str):
                value_type = self._step("with", value_type)
            self._bind(node.asname.name, value_type)

    def _callee(self, func: cst.BaseExpression) -> Optional[str]:
        dotted = dotted_name(func)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            bound, known = self._bound(head)
            if bound:
                return f"{known}.{rest}" if isinstance(known, str) and rest else None
        name = self.names.qualify(func)
        if name is None and isinstance(func, cst.Name):
            name = self.names.builtin(func)
            if name is not None and name in self.frames[0].defs:
                name = None
        if name is None and isinstance(func, cst.Attribute):
            if isinstance(func.value, cst.Call):
                owner = self.names.call_result_type(func.value) or self._unimported_call_type(func.value)
                owner = owner or self._expr_type(func.value)
                return f"{owner}.{func.attr.value}" if isinstance(owner, str) else None
            dotted = dotted_name(func)
            if dotted:
                head, _, rest = dotted.partition(".")
                known = self._frame_type(head)
                if isinstance(known, str):
                    return f"{known}.{rest}"
                if known is not None:
                    return None
                return self._unimported(func)
        return name

    def visit_Call(self, node: cst.Call) -> None:
        callee = self._callee(node.func)
        method = node.func.attr.value if isinstance(node.func, cst.Attribute) else ""
        if callee in self.table.offload or method in self.table.offload_methods:
            owner = self._function()
            for arg in node.args:
                if isinstance(arg.value, cst.Lambda):
                    self.offloaded.add(id(arg.value))
                elif owner is not None:
                    owner.offloads.add(dotted_name(arg.value) or "")
        if callee in self.table.wrappers:
            for arg in node.args:
                self.exempt.add(id(arg.value))
        name = method or (node.func.value if isinstance(node.func, cst.Name) else "")
        if name in self.table.polling_waits:
            self._mark_polling()
        function = self._function()
        if function is None or id(node) in self.exempt:
            return
        entry = self.table.lookup(callee) if callee else None
        if entry is not None and not self._nonblocking(node, entry):
            self._blocking(node, callee or "", entry, function)
            return
        if entry is None and isinstance(node.func, cst.Attribute) and node.func.attr.value in self.table.method_names:
            receiver = self._expr_type(node.func.value)
            if isinstance(receiver, tuple) and receiver[0] == "union":
                self._call_on_branches(node, receiver[1:], function)
            elif receiver is not None and not isinstance(receiver, str):
                statement = self.context.statements[-1] if self.context.statements else node
                self.typed.append((function, node, receiver, statement, self.context.place))
        ref = self._project_ref(node.func, callee)
        if ref is None:
            return
        facts = self._arg_facts(node, function)
        if function.kind == "async":
            statement = self.context.statements[-1] if self.context.statements else node
            self.sites.setdefault(function.key, []).append((node, ref, statement, self.context.place, facts))
        else:
            self.calls.setdefault(function.key, set()).add(ref)
            if any(facts[0]) or any(facts[1].values()):
                known = self.args.setdefault(function.key, {}).setdefault(ref, [])
                if facts not in known and len(known) < 4:
                    known.append(facts)

    def _call_on_branches(self, node: cst.Call, types: Tuple[TypeExpr, ...], function: Frame) -> None:
        """A method called on a name that has a different type on each branch that bound it: each
        type alone. A type without that method is not the one this call runs on (a BytesIO's
        getvalue() where the other branch opened a file)."""
        method = node.func.attr.value  # type: ignore[attr-defined]
        worst = None
        for owner in types:
            if not isinstance(owner, str):
                continue
            entry = self.table.lookup(f"{owner}.{method}")
            has = _methods_of(owner)
            if entry is None or self._nonblocking(node, entry) or (has and method not in has):
                continue
            if worst is None or entry.severity.rank > worst[1].severity.rank:
                worst = (f"{owner}.{method}", entry)
        if worst is not None:
            self._blocking(node, worst[0], worst[1], function)

    def _nonblocking(self, node: cst.Call, entry: Entry) -> bool:
        if entry.path_prefixes and _path_literal(node).startswith(entry.path_prefixes):
            return True
        if entry.only_keywords and node.args and all(
            arg.keyword is not None and arg.keyword.value in entry.only_keywords for arg in node.args
        ):
            return True
        if entry.if_imported and self._already_imported(_first_literal(node)):
            return True
        return _nonblocking(_false_args(node), entry)

    def _already_imported(self, module: str) -> bool:
        """`importlib.import_module("json")` in a file that imports json: a dictionary lookup."""
        if not module:
            return False
        return any(name == module or name.startswith(f"{module}.") for name in self.names.aliases.values())

    def _blocking(self, node: cst.Call, callee: str, entry: Entry, function: Frame,
                  where: Optional[Tuple[cst.CSTNode, Tuple[cst.CSTNode, ...]]] = None) -> None:
        """Report in a coroutine, or remember the helper's worst call; `where` (statement, place)
        for a call decided after the walk left it."""
        if function.kind == "async":
            if "ARV201" not in self.context.settings.enabled:
                return
            statement, place = where or (self.context.statements[-1] if self.context.statements else node,
                                         self.context.place)
            message = direct_message(callee, entry, function.key)
            fix = blocking_fixes.rewrite(node, callee, entry.category, statement, self.names, self.context.settings.target)
            report = Report(node, "ARV201", message, entry.severity, statement, "", place, callee, fix)
            text, socket = dotted_name(node.func) or "", entry.category == "socket"
            if where is None:  # what the coroutine polls and offloads is known when it is left
                function.held.append((report, text, socket))
            elif _counts(function, text, socket):  # decided after the walk: the coroutine is complete
                self.context.reports.append(report)
            return
        if entry.severity.rank < Severity.WARNING.rank or not entry.in_helpers:
            return  # a suggestion-level or once-only entry is not enough to call a whole helper blocking
        guards = self._active_guards(function) + self._origin_guards(node, callee, function) if where is None else []
        candidate = (node, callee, entry, where[1] if where else self.context.place, guards)
        if entry.category != "socket" or (where is not None and not function.polls):
            self._remember_direct(function.key, candidate)
        elif where is None:
            function.held.append(candidate)

    def _remember_direct(self, key: str, candidate: Tuple[Any, ...]) -> None:
        """A helper's worst blocking call: the most severe, unguarded before guarded."""
        known = self.direct.get(key)
        rank = (_RANK[candidate[2].severity.value], not candidate[4])
        if known is None or rank > (_RANK[known[2].severity.value], not known[4]):
            self.direct[key] = candidate

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
                                   "direct": {}, "sites": {}, "imports": imports, "declares": self.declares,
                                   "typed": {}, "args": self.args, "params": self.params,
                                   "polling": sorted(self.polling)}
        self.context.summary[self.family] = summary
        locator = self.context.locator
        lines = self.context.text.splitlines()

        def where(target: cst.CSTNode, place: Tuple[cst.CSTNode, ...]) -> List[int]:
            spot = locator.where(target, place)
            return [spot.start.line, spot.start.column + 1, spot.end.line, spot.end.column + 1]

        types = Types(Graph({"": summary}, max_depth=1, local_only=True))
        for frame, call, receiver, statement, place in self.typed:
            if (dotted_name(call.func) or "") in frame.offloads:
                continue  # the function hands the same callable to a thread elsewhere (Frame.offloads)
            method = call.func.attr.value  # type: ignore[attr-defined]
            try:
                owner = types.resolve("", receiver)
            except Deferred:  # another module declares it: the join finishes the type
                spot = where(call, place)
                statement_at = locator.where(statement, place)
                text = "\n".join(lines[spot[0] - 1 : min(spot[2], spot[0] + 11)])
                summary["typed"].setdefault(frame.key, []).append(
                    [receiver, method, _false_args(call), *spot, statement_at.start.line, text])
                continue
            entry = self.table.lookup(f"{owner}.{method}") if isinstance(owner, str) else None
            if entry is not None and not _nonblocking(_false_args(call), entry):
                self._blocking(call, f"{owner}.{method}", entry, frame, (statement, place))
        if not (self.direct or self.sites):
            return

        for key, (call, callee, entry, place, guards) in self.direct.items():
            line = where(call, place)
            summary["direct"][key] = line + [callee, entry.severity.value, entry.alternative, lines[line[0] - 1].strip()]
            if guards and self.module is not None:
                summary["direct"][key].append([[*g[:4], self.module.code_for_node(g[4])] for g in guards])
        graph = Graph({"": summary}, max_depth=_depth(self.context.settings), local_only=True)
        for key, found in self.sites.items():
            kept = []
            for call, ref, statement, place, facts in found:
                chain, complete = graph.chain("", key, ref)
                if chain is not None:
                    self._report_chain(call, statement, key, chain, place, graph.guard_outcome("", facts, chain))
                elif not complete:
                    spot = where(call, place)
                    statement_at = locator.where(statement, place)
                    stmt_line = statement_at.start.line if statement_at is not None else spot[0]
                    text = "\n".join(lines[spot[0] - 1 : min(spot[2], spot[0] + 11)])
                    kept.append([ref] + spot + [stmt_line, text, facts])
            if kept:
                summary["sites"][key] = kept

    def _report_chain(self, call: cst.Call, statement: cst.CSTNode, key: str, chain: List[Link],
                      place: Tuple[cst.CSTNode, ...], unmet: Optional[str]) -> None:
        if "ARV202" not in self.context.settings.enabled:
            return
        message, severity, extra = describe(key, chain, "", unmet)
        self.context.reports.append(Report(call, "ARV202", message, severity, statement, extra, place))

    # -- the project join ----------------------------------------------------------------------
    @classmethod
    def project_findings(cls, files: ProjectSummaries, settings: Dict[str, Settings]) -> List[Finding]:
        depth = max((_depth(s) for s in settings.values()), default=DEFAULT_DEPTH)
        graph = Graph(files, max_depth=depth, local_only=False)
        types = Types(graph, {path: _table(s) for path, s in settings.items()})
        graph.typed_direct = types.direct
        findings = []
        for path, summary in files.at_hand():  # a pending file has no call sites in coroutines
            file_settings = settings.get(path)
            if file_settings is None:
                continue
            if "ARV201" in file_settings.enabled:
                findings.extend(types.coroutine_findings(path, summary))
            if "ARV202" not in file_settings.enabled:
                continue
            graph.max_depth = _depth(file_settings)
            for key, sites in summary.get("sites", {}).items():
                for site in sites:
                    ref, line, column, end_line, end_column, stmt_line, text = site[:7]
                    chain, _ = graph.chain(path, key, ref)
                    if chain is None:
                        continue
                    unmet = graph.guard_outcome(path, site[7] if len(site) > 7 else None, chain)
                    message, severity, extra = describe(key, chain, path, unmet)
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
        # (path, key) -> a direct entry from calls whose receiver's type another module declares
        self.typed_direct: Optional[Any] = None

    def direct(self, node: Tuple[str, str]) -> Optional[List[Any]]:
        summary = self.files[node[0]]
        found = summary.get("direct", {}).get(node[1])
        if found is None and self.typed_direct is not None and node[1] in summary.get("typed", {}):
            found = self.typed_direct(node)
        return found

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

    def guard_outcome(self, caller: str, facts: Optional[List[Any]], chain: List[Link]) -> Optional[str]:
        """None when the chain's blocking call is unguarded or the arguments pass its guards;
        else the first guard they are not known to pass, quoted (`isinstance(file, str)` in `_meta`)."""
        path, key, direct = chain[-1]
        guards = direct[8] if direct is not None and len(direct) > 8 else []
        for param, kind, data, negated, text in guards:
            passes = self._passes(chain, len(chain) - 1, param, kind, data, negated, caller, facts)
            if passes is not True:
                check = f"`{text}` {'is false' if negated else 'holds'} in `{key}`"
                return f"{check}: the argument here {'does not pass it' if passes is False else 'is not known to pass it'}"
        return None

    def _passes(self, chain: List[Link], index: int, param: str, kind: str, data: Any, negated: bool,
                caller: str, facts: Optional[List[Any]]) -> Optional[bool]:
        """Whether what reaches parameter `param` of chain[index] passes the check: True, False,
        or None when nothing says (one caller passing it is enough)."""
        path, key, _ = chain[index]
        params = self.files[path].get("params", {}).get(key)
        if params is None or param not in params:
            return None
        if index == 0:
            passed = [facts] if facts else []
        else:
            before = chain[index - 1][:2]
            passed = [f for ref, lists in self.files[before[0]].get("args", {}).get(before[1], {}).items()
                      if self.resolve(before[0], ref) == (path, key) for f in lists]
        outcome: Optional[bool] = False if passed else None
        for positional, keywords in passed:
            position = params.index(param)
            fact = keywords.get(param) if param in keywords else positional[position] if position < len(positional) else None
            if fact is not None and fact[0] == "p" and index > 0:
                verdict = self._passes(chain, index - 1, fact[1], kind, data, negated, caller, facts)
            else:
                verdict = _check(fact, kind, data)
                verdict = None if verdict is None else verdict != negated
            if verdict is None or verdict:
                outcome = verdict if outcome is not True else True
            if outcome:
                return True
        return outcome

    def _incomplete(self, node: Tuple[str, str]) -> bool:
        summary = self.files[node[0]]
        refs = summary.get("calls", {}).get(node[1], ())
        return node[1] in summary.get("typed", {}) or any(not ref.startswith("@") for ref in refs)

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
            direct = self.direct(node)
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
            links[-1] = (last[0], last[1], self.direct((last[0], last[1])))
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


def _parameter_check(test: cst.BaseExpression, params: List[str]) -> Optional[Tuple[str, str, Any]]:
    """(param, kind, data) for `isinstance(p, T)`, `p.startswith("x")`, `hasattr(p, "a")`,
    `p is None`: the checks a caller's literal or known type decides."""
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and len(test.args) == 2:
        subject, what = test.args[0].value, test.args[1].value
        if not (isinstance(subject, cst.Name) and subject.value in params):
            return None
        if test.func.value == "isinstance":
            names = [e.value for e in what.elements] if isinstance(what, cst.Tuple) else [what]
            dotted = [dotted_name(n) for n in names]
            return (subject.value, "isinstance", [d.rsplit(".", 1)[-1] for d in dotted if d]) if all(dotted) else None
        if test.func.value == "hasattr" and isinstance(what, cst.SimpleString):
            return subject.value, "hasattr", what.evaluated_value
        return None
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and test.func.attr.value == "startswith":
        subject = test.func.value
        if isinstance(subject, cst.Name) and subject.value in params and len(test.args) == 1:
            what = test.args[0].value
            strings = [e.value for e in what.elements] if isinstance(what, cst.Tuple) else [what]
            if all(isinstance(s, cst.SimpleString) for s in strings):
                return subject.value, "startswith", [s.evaluated_value for s in strings]  # type: ignore[union-attr]
        return None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name):
        target = test.comparisons[0]
        if test.left.value in params and isinstance(target.comparator, cst.Name) and target.comparator.value == "None":
            if isinstance(target.operator, (cst.Is, cst.IsNot)):
                return test.left.value, "none" if isinstance(target.operator, cst.Is) else "not-none", None
    return None


# What a literal argument is, for the checks above: its builtin type and, for a string, its value.
_LITERALS = {cst.SimpleString: "str", cst.ConcatenatedString: "str", cst.FormattedString: "str",
             cst.Integer: "int", cst.Float: "float", cst.List: "list", cst.Dict: "dict", cst.Tuple: "tuple",
             cst.Set: "set", cst.ListComp: "list", cst.DictComp: "dict", cst.SetComp: "set"}
_SAMPLES = {"str": "", "bytes": b"", "int": 0, "float": 0.0, "list": [], "dict": {}, "tuple": (), "set": set(),
            "None": None, "bool": False}


_BUILTINS = frozenset(("str", "bytes", "int", "float", "list", "dict", "tuple", "set", "bool", "NoneType", "object"))


def _literal_fact(node: cst.BaseExpression) -> Optional[List[Any]]:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return ["l", "bytes" if isinstance(value, bytes) else "str", value if isinstance(value, str) else None]
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return ["l", "None" if node.value == "None" else "bool", None]
    kind = _LITERALS.get(type(node))
    return ["l", kind, None] if kind else None


def _check(fact: Optional[List[Any]], kind: str, data: Any) -> Optional[bool]:
    """Whether a value the fact describes passes a check (not negated); None when unknown."""
    if fact is None or fact[0] not in ("l", "t"):
        return None
    if fact[0] == "t":
        last = str(fact[1]).rsplit(".", 1)[-1]
        if kind in ("none", "not-none"):
            return kind == "not-none"
        if kind == "isinstance" and last in data:
            return True
        # A stdlib class (a Path) is none of the builtins a check names; a project's class may be.
        return False if kind == "isinstance" and set(data) <= _BUILTINS and not project_like(fact[1]) else None
    literal, value = fact[1], fact[2]
    if kind == "none":
        return literal == "None"
    if kind == "not-none":
        return literal != "None"
    if kind == "isinstance":
        if not set(data) <= _BUILTINS:
            return None  # a class of the project or a protocol: its hierarchy is not known here
        return literal in data or "object" in data or (literal == "bool" and "int" in data) or \
            (literal == "None" and "NoneType" in data)
    if kind == "hasattr":
        return hasattr(_SAMPLES.get(literal), data) if literal in _SAMPLES else None
    if kind == "startswith":
        return None if value is None else any(value.startswith(p) for p in data if isinstance(p, str))
    return None


def _merge(outcomes: List[Dict[str, TypeExpr]]) -> Dict[str, TypeExpr]:
    """Names' types where branches meet: one type, or ("union", ...) of the types they had."""
    merged: Dict[str, TypeExpr] = {}
    for name in {name for outcome in outcomes for name in outcome}:
        seen: List[TypeExpr] = []
        for outcome in outcomes:
            if name in outcome:
                value = outcome[name]
                for one in (value[1:] if isinstance(value, tuple) and value[0] == "union" else (value,)):
                    if one not in seen:
                        seen.append(one)
        merged[name] = seen[0] if len(seen) == 1 else ("union", *seen)
    return merged


def _exits(body: cst.BaseSuite) -> bool:
    """Whether a block always leaves the function (its last statement returns or raises)."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    last = statements[-1] if statements else None
    if isinstance(last, cst.SimpleStatementLine):
        return isinstance(last.body[-1], (cst.Return, cst.Raise))
    if isinstance(last, cst.SimpleStatementSuite):
        return isinstance(last.body[-1], (cst.Return, cst.Raise))
    return False


def _false_args(call: cst.Call) -> List[str]:
    """The arguments written as a literal False (`block=False`, `#0` for the first positional)."""
    found = []
    for index, arg in enumerate(call.args):
        if _is_false(arg.value) and arg.star == "":
            found.append(arg.keyword.value if arg.keyword is not None else f"#{index}")
    return found


def _counts(coroutine: Frame, text: str, socket: bool) -> bool:
    """Whether a blocking call in a coroutine is reported once the coroutine is known whole: not
    a socket call where it drives non-blocking sockets, not a callable it also hands to a thread."""
    return not (socket and coroutine.polls) and (not text or text not in coroutine.offloads)


def _nonblocking(false_args: List[str], entry: Entry) -> bool:
    if entry.nonblocking is None:
        return False
    keyword, position = entry.nonblocking
    return keyword in false_args or f"#{position}" in false_args or "timeout" in false_args


def direct_message(callee: str, entry: Entry, coroutine_key: str) -> str:
    coroutine = coroutine_key.rsplit(".", 1)[-1]
    return (f"`{callee}()` {entry.what} inside coroutine `{coroutine}()`, stalling every task on the "
            f"event loop. Instead: {entry.alternative}.")


class Deferred(Exception):
    """A type a module's own pass cannot finish: another module declares part of it."""


class Types:
    """Finishes type expressions (asyncreview.names) from what every module declares: return,
    parameter and attribute annotations, class fields, module constants."""

    def __init__(self, graph: Graph, tables: Optional[Dict[str, Table]] = None) -> None:
        self.graph = graph
        self.tables = tables or {}

    def locate(self, caller: str, ref: str, hops: int = 0) -> Optional[Tuple[str, str]]:
        """The (path, key) of a class, function or constant of the project a reference names."""
        if ref.startswith("@"):
            return self._declared(caller, ref[1:], hops)
        if self.graph.local_only:
            raise Deferred
        if hops > 4:
            return None
        parts = [p for p in self.graph._absolute(caller, ref).split(".") if p]
        for cut in range(len(parts) - 1, 0, -1):
            path = self.graph._module(caller, ".".join(parts[:cut]))
            if path is not None:
                return self._declared(path, ".".join(parts[cut:]), hops)
        return None

    def _declared(self, path: str, key: str, hops: int) -> Optional[Tuple[str, str]]:
        summary = self.graph.files.get(path)
        if not summary:
            return None
        declares = summary.get("declares", {})
        if key in summary.get("classes", ()) or f"ret:{key}" in declares or f"const:{key}" in declares:
            return path, key
        head, _, rest = key.partition(".")
        target = summary.get("imports", {}).get(head)
        if target:  # re-exported: `from .paths import config_dir` in __init__.py
            return self.locate(path, f"{target}.{rest}" if rest else target, hops + 1)
        return None

    def resolve(self, path: str, expr: TypeExpr, depth: int = 0) -> TypeExpr:
        """A qualified type name, a container of resolved types, ("class", path, key), or None."""
        if expr is None or depth > 12:
            return None
        if isinstance(expr, str):
            if not project_like(expr):
                return expr
            found = self.locate(path, expr)
            if found is not None and found[1] in self.graph.files[found[0]].get("classes", ()):
                return ("class", *found)
            return expr
        kind = expr[0]
        if kind == "union":
            return None
        if kind == "class":
            return tuple(expr)
        if kind in ("iter", "cm", "dict", "tuple"):
            return (kind, *[self.resolve(path, item, depth + 1) for item in expr[1:]])
        if kind in ("call", "name"):
            found = self.locate(path, expr[1])
            if found is None:
                return None
            where, key = found
            summary = self.graph.files[where]
            if key in summary.get("classes", ()):
                return ("class", where, key) if kind == "call" else None
            fact = summary.get("declares", {}).get(("ret:" if kind == "call" else "const:") + key)
            return self.resolve(where, fact, depth + 1)
        base = self.resolve(path, expr[1], depth + 1)
        if base is None:
            return None
        if base[0] == "class" and not isinstance(base, str):
            _, where, key = base
            declares = self.graph.files[where].get("declares", {})
            if kind == "attr":
                return self.resolve(where, declares.get(f"attr:{key}.{expr[2]}"), depth + 1)
            if kind == "meth":
                return self.resolve(where, declares.get(f"ret:{key}.{expr[2]}"), depth + 1)
            return base if kind == "with" else None
        return type_step(kind, base, expr[2:])

    def _entry(self, path: str, site: List[Any], key: str) -> Optional[Tuple[str, Entry]]:
        """The table entry a typed call site of function `key` blocks on, if any."""
        receiver, method, false_args = site[:3]
        table = self.tables.get(path)
        owner = self.resolve(path, receiver) if table is not None else None
        if not isinstance(owner, str):
            return None
        entry = table.lookup(f"{owner}.{method}")  # type: ignore[union-attr]
        if entry is None or _nonblocking(false_args, entry):
            return None
        if entry.category == "socket" and key in self.graph.files[path].get("polling", ()):
            return None  # the function drives non-blocking sockets (calls.toml [polling])
        return f"{owner}.{method}", entry

    def coroutine_findings(self, path: str, summary: Dict[str, Any]) -> List[Finding]:
        findings = []
        for key, sites in summary.get("typed", {}).items():
            if summary.get("functions", {}).get(key) != 1:
                continue
            for site in sites:
                found = self._entry(path, site, key)
                if found is None:
                    continue
                line, column, end_line, end_column, stmt_line, text = site[3:9]
                findings.append(Finding(
                    path=path, line=line, column=column, end_line=end_line, end_column=end_column,
                    code="ARV201", severity=found[1].severity, message=direct_message(found[0], found[1], key),
                    snippet=text, statement_line=stmt_line, kind=found[0],
                ))
        return findings

    def direct(self, node: Tuple[str, str]) -> Optional[List[Any]]:
        """A helper's direct entry from its typed calls (the most severe, at least WARNING)."""
        path, key = node
        best = None
        for site in self.graph.files[path].get("typed", {}).get(key, ()):
            found = self._entry(path, site, key)
            if found is None or found[1].severity.rank < Severity.WARNING.rank:
                continue
            if best is None or found[1].severity.rank > best[1].severity.rank:
                best = (site, *found)
        if best is None:
            return None
        site, callee, entry = best
        text = site[8].splitlines()[0].strip() if site[8] else ""
        return [*site[3:7], callee, entry.severity.value, entry.alternative, text]


def describe(key: str, chain: List[Link], caller_path: str, unmet: Optional[str] = None) -> Tuple[str, Severity, str]:
    """Message, severity and snippet evidence of a chain `handler() -> _load() -> open()`; `unmet`:
    the helper's guard the call's argument is not known to pass (a SUGGESTION then)."""
    path, helper_key, direct = chain[-1]
    assert direct is not None
    line, _, _, _, callee, severity, alternative, text = direct[:8]
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
    if unmet:
        level = Severity.SUGGESTION
        message += f" Only when {unmet}."
    label = f"{path}:{line}" if path else f"line {line}"
    extra = f"# {label} (in {helper_key}):\n{text}"
    return message, level, extra


RULES = [BlockingCalls]
