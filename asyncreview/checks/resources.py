"""ARV3xx: resources opened without `with`, locks acquired without a `finally`, classes that own a
resource but offer no context-manager protocol, and tasks whose only reference is dropped.

The knowledge (which calls open what, how it is closed, which types are locks) is data in
rules/resources/*.toml; this module only knows how ownership moves through a function. Facts are
collected as the shared traversal goes and judged when a function (or class) ends, walking that
function's already-parsed subtree once."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.checks.resource_fixes import keep_task, managed
from asyncreview.config import Settings
from asyncreview.fixes import Rewrite
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Substrings, Words
from asyncreview.tree import inner_children

Entry = Dict[str, Any]
Chain = Tuple[cst.CSTNode, ...]

_ENTER_METHODS = {"__enter__", "__aenter__"}
_EXIT_OF = {"__enter__": "__exit__", "__aenter__": "__aexit__"}
_PROTOCOL = ("__enter__", "__exit__", "__aenter__", "__aexit__")
_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LEAVES = (cst.Call, cst.Await, cst.Return, cst.Raise, cst.Yield, cst.Break, cst.Continue)


# -- tables ------------------------------------------------------------------------------------
def _entry(name: str, raw: Any) -> Entry:
    """One constructor entry in canonical form; accepts the short `"aclose"` spelling."""
    if isinstance(raw, str):
        close = raw.strip()
        is_async = close.startswith("await ") or close == "aclose"
        raw = {"close": close.replace("await ", "").strip(), "async": is_async}
    if not isinstance(raw, dict) or not isinstance(raw.get("close"), str) or not raw["close"].isidentifier():
        raise ValueError(f"{name!r}: expected a close method name such as \"close\" or \"aclose\", "
                         f"or a table {{close = \"close\", async = true, leaks = \"...\"}}")
    also = raw.get("also", [])
    if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
        raise ValueError(f"{name!r}: `also` must be a list of method names")
    is_async = raw.get("async", False)
    if not isinstance(is_async, bool):
        raise ValueError(f"{name!r}: `async` must be true or false")
    return {
        "close": raw["close"],
        "closes": sorted({raw["close"], *also}),
        "async": is_async,
        "with": str(raw.get("with", "async with" if is_async else "with")),
        "leaks": str(raw.get("leaks", "a resource")),
    }


def _extend_constructors(value: Any) -> Dict[str, Entry]:
    if not isinstance(value, dict):
        raise ValueError('expected a table such as {"mylib.Pool" = "aclose"}')
    return {str(name): _entry(str(name), raw) for name, raw in value.items()}


def _extend_locks(value: Any) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError('expected a list of qualified names such as ["mylib.Mutex"]')
    return sorted(value)


class _Tables:
    def __init__(self, settings: Settings) -> None:
        base = load_table("resources", "constructors")
        self.constructors: Dict[str, Entry] = {n: _entry(n, e) for n, e in base["constructors"].items()}
        self.constructors.update(settings.option("extend-resource-constructors") or {})
        self.borrowers: Set[str] = set(base["borrowers"]["names"])
        self.neutral_bases: Set[str] = set(base["classes"]["neutral-bases"])
        self.close_methods: Set[str] = set(base["classes"]["close-methods"])
        locks = load_table("resources", "locks")
        self.locks: Set[str] = set(locks["locks"]) | set(settings.option("extend-lock-types") or [])
        self.lock_suffixes: Tuple[str, ...] = tuple(s.lower() for s in locks["names"]["suffixes"])
        self.counting: Set[str] = {name for name, entry in locks["locks"].items() if entry.get("counting")}
        self.counting_suffixes: Tuple[str, ...] = tuple(s.lower() for s in locks["names"]["counting-suffixes"])
        self.spawners: Set[str] = set(locks["spawners"]["names"])
        self.loop_methods: Set[str] = set(locks["loops"]["methods"])
        self.loop_suffixes: Tuple[str, ...] = tuple(s.lower() for s in locks["loops"]["suffixes"])
        self.loop_factories: Set[str] = set(locks["loops"]["factories"])
        self.handovers: Set[str] = set(locks["handovers"]["names"])
        self.wrappers: Set[str] = set(locks["handovers"]["wrappers"])


@functools.lru_cache(maxsize=32)
def _tables(settings: Settings) -> _Tables:
    return _Tables(settings)


# -- tree helpers --------------------------------------------------------------------------------
def _call_of(expr: Optional[cst.BaseExpression]) -> Optional[cst.Call]:
    """The call in `f(...)` or `await f(...)`."""
    if type(expr) is cst.Await:  # exact types: isinstance on LibCST's ABCs takes the slow path
        expr = expr.expression  # type: ignore[union-attr]
    return expr if type(expr) is cst.Call else None  # type: ignore[return-value]


def _walk(root: cst.CSTNode) -> Iterator[Tuple[cst.CSTNode, Chain]]:
    """Every node under root with its ancestors (root first)."""
    stack: List[Tuple[cst.CSTNode, Chain]] = [(root, ())]
    while stack:
        node, parents = stack.pop()
        yield node, parents
        chain = parents + (node,)
        for child in reversed(inner_children(node)):
            stack.append((child, chain))


def _can_leave(statement: cst.CSTNode) -> bool:
    """Whether control may leave between two statements here: a call can raise, a return returns."""
    return any(isinstance(node, _LEAVES) for node, _ in _walk(statement))


def _calls_method(root: cst.CSTNode, receiver: str, methods: Set[str]) -> List[Tuple[cst.Call, Chain]]:
    found = []
    for node, parents in _walk(root):
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in methods
            and dotted_name(node.func.value) == receiver
        ):
            found.append((node, parents))
    return found


def _statement_of(parents: Chain) -> Tuple[Optional[cst.CSTNode], int]:
    """The innermost statement in a chain of ancestors and its index in the chain."""
    for index in range(len(parents) - 1, -1, -1):
        node = parents[index]
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node, index
    return None, -1


def _following(chain: Chain, index: int) -> Iterator[cst.CSTNode]:
    """The statements that run after chain[index], in order: the rest of its block, then, when the
    block is the body of an `if`/`else`, what follows that `if` (and so on outwards)."""
    while index > 0:
        statement = chain[index]
        block = chain[index - 1]
        body = getattr(block, "body", None)
        if not isinstance(body, (list, tuple)):
            return
        for number, item in enumerate(body):
            if item is statement:
                yield from body[number + 1 :]
                break
        # climb out of `if ...:` / `elif` / `else:` blocks only: loops, try and with change what
        # runs next
        outer = index - 2
        while outer > 0 and (
            isinstance(chain[outer], cst.Else) or (isinstance(chain[outer], cst.If) and isinstance(chain[outer - 1], cst.If))
        ):
            outer -= 1
        if outer < 1 or not isinstance(chain[outer], cst.If):
            return
        index = outer


def _finally_covers(chain: Chain, closes_in: Any, guard: Optional[str] = None) -> bool:
    """Whether the statement at the end of `chain` is always followed by what `closes_in` accepts:
    it sits in the body of a try whose finally closes, or a try/finally that closes (or the close
    itself) follows it with nothing in between that could raise or return. `guard` names a
    variable holding the acquire's result: `if not acquired: raise ...` right after is fine."""
    statement, index = _statement_of(chain)
    if statement is None:
        return False
    for position in range(index - 1, -1, -1):
        node = chain[position]
        if isinstance(node, cst.Try) and node.finalbody is not None and chain[position + 1] is node.body:
            if closes_in(node.finalbody):
                return True
    if isinstance(statement, (cst.If, cst.While)) and any(node is statement.test for node in chain):
        # `if lock.acquire(timeout=1): try: ... finally: lock.release()`, `while ...` alike
        candidates: Iterator[cst.CSTNode] = iter(getattr(statement.body, "body", []))
    else:
        candidates = _following(chain, index)
    for item in candidates:
        if isinstance(item, cst.Try) and item.finalbody is not None and closes_in(item.finalbody):
            return True
        if isinstance(item, cst.SimpleStatementLine) and closes_in(item):
            return True  # closed right away: nothing in between can fail
        if guard is not None and isinstance(item, cst.If) and _mentions(item.test, guard) and not _can_leave(item.test):
            continue
        if isinstance(item, cst.If) and item.orelse is None and not _can_leave(item.test) and closes_in(item.body):
            continue  # `if closed: lock.release(); raise ...`: the early exit cleans up itself
        if _can_leave(item):
            return False
    return False


def _hands_over(root: cst.CSTNode, receiver: str) -> bool:
    """Whether `receiver` itself is passed to a call, returned or yielded somewhere in root."""
    for node, _ in _walk(root):
        if isinstance(node, cst.Arg) and dotted_name(node.value) == receiver:
            return True
        if isinstance(node, (cst.Return, cst.Yield)) and node.value is not None:
            value = node.value
            items = [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]
            if any(dotted_name(item) == receiver for item in items):
                return True
    return False


def _last_name(func: cst.BaseExpression) -> Optional[str]:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def _can_raise(node: cst.CSTNode) -> bool:
    return any(isinstance(n, (cst.Call, cst.Await, cst.Raise)) for n, _ in _walk(node))


def _try_releases(node: cst.Try, releases_in: Any) -> bool:
    return any(releases_in(handler.body) for handler in node.handlers) or (
        node.finalbody is not None and releases_in(node.finalbody)
    )


def _fails_before_return(chain: Chain, releases_in: Any) -> Optional[cst.CSTNode]:
    """In `__aenter__`/`__enter__`, after the acquire at the end of `chain`: the first statement
    that can raise while nothing would release (None when there is none). `async with` runs
    `__aexit__` only once `__aenter__` has returned, so a failure there leaves the lock held."""
    statement, index = _statement_of(chain)
    if statement is None:
        return None
    for position in range(index - 1, -1, -1):
        node = chain[position]
        if isinstance(node, cst.Try) and chain[position + 1] is node.body and _try_releases(node, releases_in):
            return None
    negated = isinstance(statement, cst.If) and isinstance(statement.test, cst.UnaryOperation)
    if isinstance(statement, (cst.If, cst.While)) and any(node is statement.test for node in chain) and not negated:
        candidates: Iterator[cst.CSTNode] = iter(getattr(statement.body, "body", []))  # held in the body
    else:
        candidates = _following(chain, index)  # `if not await lock.acquire(): raise ...` holds after the if
    for item in candidates:
        if isinstance(item, cst.Try) and _try_releases(item, releases_in):
            continue
        if isinstance(item, cst.SimpleStatementLine) and releases_in(item):
            return None
        if isinstance(item, cst.If) and item.orelse is None and not _can_raise(item.test) and releases_in(item.body):
            continue  # `if self._closed: self._lock.release(); raise ...`
        if _can_raise(item):
            return item
    return None


def _attribute_aliases(cls: _Class, attr: str) -> Set[str]:
    """`self.attr` and, when `attr` is a property of the class returning `self.other` (a lock
    created lazily), `self.other`: the same lock under two names."""
    aliases = {f"self.{attr}"}
    prop = cls.methods.get(attr)
    if prop is not None:
        for node, _ in _walk(prop.body):
            if isinstance(node, cst.Return) and node.value is not None:
                name = dotted_name(node.value)
                if name is not None and name.startswith("self."):
                    aliases.add(name)
    return aliases


def _mentions(node: cst.CSTNode, name: str) -> bool:
    return any(isinstance(n, cst.Name) and n.value == name for n, _ in _walk(node))


def _spelled(func: cst.BaseExpression) -> str:
    """`asyncio.create_task`, `helpers.get_running_loop().create_task`: the callee as written."""
    return dotted_name(func) or " ".join(cst.Module([]).code_for_node(func).split())


# -- per-scope facts ---------------------------------------------------------------------------
class _Class:
    def __init__(self, node: cst.ClassDef) -> None:
        self.node = node
        self.methods: Dict[str, cst.FunctionDef] = {}
        self.owned: Dict[str, Tuple[str, Entry]] = {}  # self attribute -> (constructor, entry)
        self.types: Dict[str, str] = {}  # self attribute -> qualified type
        self.releases: Dict[str, Set[str]] = {}  # self attribute -> methods calling its release()
        # (method, attribute, call, awaited, statement, released in the method, what can fail
        # after it in __aenter__/__enter__ before the exit method takes over)
        self.acquires: List[Tuple[str, str, cst.Call, bool, cst.CSTNode, bool, Optional[cst.CSTNode]]] = []


class _Resource:
    __slots__ = ("name", "small", "call", "ctor", "entry", "factory")

    def __init__(self, name, small, call, ctor, entry, factory=None) -> None:
        self.name = name
        self.small = small
        self.call = call
        self.ctor = ctor
        self.entry = entry
        self.factory = factory


class _Function:
    def __init__(self, node: cst.FunctionDef, owner: Optional[_Class], top: bool) -> None:
        self.node = node
        self.owner = owner
        self.top = top
        self.resources: List[_Resource] = []
        self.acquires: List[Tuple[cst.Call, str, Optional[str], bool]] = []
        self.returned_factories: List[str] = []
        self.returned_names: Set[str] = set()
        self.loops: Set[str] = set()  # parameters and locals known to hold an event loop


class _Uses:
    """How a local is used after it was bound: judged against the closes of its entry."""

    def __init__(self) -> None:
        self.escapes = False
        self.managed = False
        self.method_calls: List[Tuple[str, Chain]] = []
        self.method_refs: Set[str] = set()


class Resources(Rule):
    codes = ("ARV301", "ARV302", "ARV303", "ARV304", "ARV305")
    family = "resources"
    options = {"extend-resource-constructors": _extend_constructors, "extend-lock-types": _extend_locks}

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # A constructor or spawner named through the imports (`session` alone is any variable;
        # with `requests` it may be requests.session), a lock's acquire, or a loop's create_task
        # (every way a loop is recognized spells `loop`: names, factories, annotations).
        tables = _tables(settings)
        return (
            Paired(mention_pairs([*tables.constructors, *tables.spawners])),
            Words("acquire"),
            AllOf(Words(*tables.loop_methods), Substrings(*tables.loop_suffixes)),
        )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables(context.settings)
        self.module = cst.Module(body=[])  # the file's, from visit_Module
        self.scopes: List[Any] = []
        self.module_functions: Set[str] = set()
        self.module_defs: Dict[str, cst.FunctionDef] = {}
        self.factories: Dict[str, Tuple[str, Entry]] = {}
        self.factory_calls: Dict[str, List[str]] = {}
        self.pending: List[Tuple[_Resource, _Uses, Chain]] = []
        self.classes: Dict[str, Tuple[bool, Set[str], bool]] = {}  # name -> (protocol, closes, external)

    # -- resolution -----------------------------------------------------------------------------
    def _callee(self, func: cst.BaseExpression) -> Optional[str]:
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            owner = self.names.call_result_type(func.value)
            return f"{owner}.{func.attr.value}" if owner else None
        return self.names.qualify(func) or self.names.builtin(func)

    def _resource(self, call: Optional[cst.Call]) -> Optional[Tuple[str, Entry]]:
        if call is None:
            return None
        name = self._callee(call.func)
        if name is not None and name in self.tables.constructors:
            return name, self.tables.constructors[name]
        return None

    # -- event loops (ARV305) ---------------------------------------------------------------------
    def _spawns(self, func: cst.BaseExpression) -> bool:
        """A call that starts a weakly held task: a spawner of the table (`asyncio.create_task`),
        or `create_task` on something that is an event loop."""
        if self._callee(func) in self.tables.spawners:
            return True
        if not isinstance(func, cst.Attribute) or func.attr.value not in self.tables.loop_methods:
            return False
        return self._is_loop(func.value)

    def _loop_type(self, type_name: Optional[str]) -> bool:
        if not type_name:
            return False
        return type_name.rsplit(".", 1)[-1].lower().endswith(self.tables.loop_suffixes)

    def _names_a_loop_type(self, annotation: cst.BaseExpression) -> bool:
        """`asyncio.AbstractEventLoop`, `Optional[AbstractEventLoop]`, `"uvloop.Loop | None"`..."""
        for node, _ in _walk(annotation):
            if isinstance(node, (cst.Name, cst.Attribute)):
                if self._loop_type(self.names.qualify(node) or dotted_name(node)):
                    return True
            elif isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
                if any(self._loop_type(word) for word in re.findall(r"[\w.]+", node.evaluated_value)):
                    return True
        return False

    def _is_loop(self, expr: Optional[cst.BaseExpression]) -> bool:
        """Whether `expr` holds an event loop, told without types (rules/resources/locks.toml
        [loops]): a call of a loop factory from any module, a name or attribute called like a
        loop, a parameter or local known to hold one; a local of another known type is not."""
        if expr is None:
            return False
        if type(expr) is cst.Call:
            called = dotted_name(expr.func)  # type: ignore[attr-defined]
            if called is not None and called.rsplit(".", 1)[-1] in self.tables.loop_factories:
                return True
            return self._loop_type(self.names.call_result_type(expr))  # type: ignore[arg-type]
        if type(expr) is cst.BooleanOperation:  # `(loop or asyncio.get_event_loop())`
            return self._is_loop(expr.left) or self._is_loop(expr.right)  # type: ignore[attr-defined]
        name = dotted_name(expr)
        if name is None:
            return False
        if "." not in name:
            if any(name in scope.loops for scope in self.scopes if isinstance(scope, _Function)):
                return True
            known = self.names.local_type(name)
            if known is not None:
                return self._loop_type(known)
        return self._loop_type(name)

    def _function(self) -> Optional[_Function]:
        return self.scopes[-1] if self.scopes and isinstance(self.scopes[-1], _Function) else None

    def _report_at(self, node: cst.CSTNode, statement: Optional[cst.CSTNode], message: str, code: str, kind: str = "",
                   fix: Optional[Rewrite] = None) -> None:
        """Reports made when a scope ends name the statement they are about, for `# noqa`."""
        if statement is not None:
            self.context.statements.append(statement)
        try:
            self.report(node, message, code=code, kind=kind, fix=fix)
        finally:
            if statement is not None:
                self.context.statements.pop()

    # -- scopes ---------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.module = node
        self.module_defs = {s.name.value: s for s in node.body if isinstance(s, cst.FunctionDef)}
        self.module_functions = set(self.module_defs)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.append(_Class(node))

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        facts = self.scopes.pop()
        self._judge_class(facts)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        owner = self.scopes[-1] if self.scopes and isinstance(self.scopes[-1], _Class) else None
        if owner is not None:
            owner.methods[node.name.value] = node
        facts = _Function(node, owner, top=not self.scopes)
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.annotation is not None and self._names_a_loop_type(param.annotation.annotation):
                facts.loops.add(param.name.value)
        self.scopes.append(facts)

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        facts = self.scopes.pop()
        if facts.resources or facts.acquires:
            self._judge_function(facts)
        if facts.top:
            name = node.name.value
            for resource in facts.resources:
                if resource.name in facts.returned_names and resource.entry is not None:
                    self.factories.setdefault(name, (resource.ctor, resource.entry))
            self.factory_calls.setdefault(name, []).extend(facts.returned_factories)

    def leave_Module(self, node: cst.Module) -> None:
        changed = True
        while changed:  # factories of factories
            changed = False
            for name, callees in self.factory_calls.items():
                if name in self.factories:
                    continue
                for callee in callees:
                    if callee in self.factories:
                        self.factories[name] = self.factories[callee]
                        changed = True
                        break
        for resource, uses, chain in self.pending:
            found = self.factories.get(resource.factory or "")
            if found is None:
                continue
            resource.ctor, resource.entry = found
            self._judge_resource(resource, uses, chain, via=f"{resource.factory}()")

    # -- collecting -----------------------------------------------------------------------------
    def _bind(self, small: cst.CSTNode, targets: List[cst.BaseExpression], value: Optional[cst.BaseExpression]) -> None:
        func = self._function()
        if func is None or value is None:
            return
        call = _call_of(value)
        found = self._resource(call)
        factory = None
        if found is None and call is not None and isinstance(call.func, cst.Name):
            if call.func.value in self.module_functions:
                factory = call.func.value
        value_type = self.names.call_result_type(call) if call is not None else None
        names = [target.value for target in targets if isinstance(target, cst.Name)]
        if names:
            holds_loop = self._is_loop(value)
            for name in names:
                (func.loops.add if holds_loop else func.loops.discard)(name)
        for target in targets:
            if isinstance(target, cst.Name) and (found or factory):
                ctor, entry = found if found else (factory or "", None)
                func.resources.append(_Resource(target.value, small, call, ctor, entry, factory))
            elif (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == "self"
                and func.owner is not None
            ):
                attr = target.attr.value
                if found:
                    func.owner.owned[attr] = found
                elif isinstance(value, cst.Name):
                    for resource in func.resources:
                        if resource.name == value.value and resource.entry is not None:
                            func.owner.owned[attr] = (resource.ctor, resource.entry)
                if value_type in self.tables.locks:
                    func.owner.types[attr] = value_type

    def visit_Assign(self, node: cst.Assign) -> None:
        self._bind(node, [t.target for t in node.targets], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node, [node.target], node.value)

    def visit_Return(self, node: cst.Return) -> None:
        func = self._function()
        if func is None or not func.top or node.value is None:
            return
        call = _call_of(node.value)
        found = self._resource(call)
        if found is not None:
            self.factories.setdefault(func.node.name.value, found)
        elif isinstance(node.value, cst.Name):
            func.returned_names.add(node.value.value)
        elif call is not None and isinstance(call.func, cst.Name) and call.func.value in self.module_functions:
            func.returned_factories.append(call.func.value)

    def visit_Expr(self, node: cst.Expr) -> None:
        call = _call_of(node.value)
        if call is None:
            return
        found = self._resource(call)
        if found is not None:
            ctor, entry = found
            self.report(
                node,
                f"`{ctor}(...)` opens {entry['leaks']} and drops it unclosed. {self._fix(ctor, entry, 'it')}.",
                code="ARV301",
                kind=ctor,
            )
            return
        function = self._function()
        if node.value is call and function is not None and self._spawns(call.func):
            statement = self.context.statements[-1] if self.context.statements else node
            self.report(
                node,
                f"the task from `{_spelled(call.func)}(...)` is dropped: the event loop keeps "
                "only a weak reference, so it can be garbage-collected before it finishes and its exception "
                "is never seen. Keep a reference (`task = ...`, a set of running tasks with "
                "`task.add_done_callback(tasks.discard)`) or use `asyncio.TaskGroup`.",
                code="ARV305",
                fix=keep_task(node, statement, function.node, self.module, self.context.text, self.names,
                              self.context.settings.target),
            )

    def visit_Attribute(self, node: cst.Attribute) -> None:
        call = _call_of(node.value)
        found = self._resource(call)
        if found is None:
            return
        ctor, entry = found
        method = node.attr.value
        if method in entry["closes"] or method in _ENTER_METHODS:
            return
        self.report(
            node,
            f"`{ctor}(...).{method}` opens {entry['leaks']}, uses it once and never closes it. "
            f"{self._fix(ctor, entry, 'it')} and use it inside the block.",
            code="ARV301",
            kind=ctor,
        )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        for arg in node.args:
            inner = _call_of(arg.value)
            found = self._resource(inner)
            if found is not None and self._callee(func) in self.tables.borrowers:
                ctor, entry = found
                self.report(
                    arg,
                    f"`{ctor}(...)` opens {entry['leaks']} that `{dotted_name(func)}` only borrows: nothing "
                    f"closes it. {self._fix(ctor, entry, 'it')} and pass `it`.",
                    code="ARV301",
                    kind=ctor,
                )
        if not isinstance(func, cst.Attribute):
            return
        receiver = dotted_name(func.value)
        scope = self._function()
        if receiver is None or scope is None:
            return
        head, _, attr = receiver.partition(".")
        if func.attr.value == "release" and head == "self" and attr and "." not in attr and scope.owner is not None:
            scope.owner.releases.setdefault(attr, set()).add(scope.node.name.value)
        if func.attr.value == "acquire":
            qualified = self.names.qualify(func)
            lock_type = qualified[: -len(".acquire")] if qualified and qualified.endswith(".acquire") else None
            if lock_type is not None and lock_type not in self.tables.locks and head != "self":
                return  # a typed receiver that is not a lock (a connection pool, a redis lock ...)
            scope.acquires.append((node, receiver, lock_type if lock_type in self.tables.locks else None, False))

    def leave_Await(self, node: cst.Await) -> None:
        scope = self._function()
        if scope is None or not scope.acquires:
            return
        if scope.acquires[-1][0] is node.expression:
            call, receiver, lock_type, _ = scope.acquires[-1]
            scope.acquires[-1] = (call, receiver, lock_type, True)

    # -- judging a function ---------------------------------------------------------------------
    def _judge_function(self, func: _Function) -> None:
        tracked = {resource.name for resource in func.resources}
        smalls = {id(resource.small) for resource in func.resources}
        acquires = {id(call) for call, _, _, _ in func.acquires}
        uses: Dict[str, _Uses] = {name: _Uses() for name in tracked}
        chains: Dict[int, Chain] = {}
        for node, parents in _walk(func.node.body):
            if id(node) in smalls or id(node) in acquires:
                chains[id(node)] = parents + (node,)
            if isinstance(node, cst.Name) and node.value in tracked and parents:
                self._classify(node, parents, uses[node.value])
        for resource in func.resources:
            chain = chains.get(id(resource.small), ())
            if resource.entry is None:
                self.pending.append((resource, uses[resource.name], chain))
            else:
                self._judge_resource(resource, uses[resource.name], chain, function=func.node)
        for call, receiver, lock_type, awaited in func.acquires:
            self._judge_acquire(func, call, receiver, lock_type, awaited, chains.get(id(call), ()))

    def _classify(self, node: cst.Name, parents: Chain, uses: _Uses) -> None:
        if any(isinstance(p, _NESTED) for p in parents):
            uses.escapes = True  # a closure: whoever calls it may close it later
            return
        parent = parents[-1]
        grand = parents[-2] if len(parents) > 1 else None
        if isinstance(parent, cst.Attribute):
            if parent.attr is node:
                return
            method = parent.attr.value
            if isinstance(grand, cst.Call) and grand.func is parent:
                uses.method_calls.append((method, parents[:-1]))
            else:
                uses.method_refs.add(method)  # `stack.callback(f.close)`, `atexit.register(f.close)`
            return
        if isinstance(parent, cst.Arg):
            if parent.keyword is node or not isinstance(grand, cst.Call):
                return
            if self._callee(grand.func) not in self.tables.borrowers:
                uses.escapes = True  # handed to a wrapper, a container, ExitStack.enter_context ...
            return
        if isinstance(parent, cst.WithItem) and parent.item is node:
            uses.managed = True
            return
        if isinstance(parent, (cst.AssignTarget, cst.AsName, cst.Param, cst.For, cst.CompFor)):
            return
        if isinstance(parent, cst.AnnAssign) and parent.target is node:
            return
        if isinstance(parent, cst.NameItem):
            uses.escapes = True  # global / nonlocal
            return
        chain = parents + (node,)
        for index in range(len(parents) - 1, -1, -1):
            ancestor = parents[index]
            if isinstance(ancestor, (cst.Return, cst.Yield, cst.Element, cst.DictElement, cst.NamedExpr)):
                uses.escapes = True
                return
            if isinstance(ancestor, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                if chain[index + 1] is ancestor.value:
                    uses.escapes = True  # `self.f = f`, `other = f`, `cache[key] = f`
                return
            if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return

    def _judge_resource(self, resource: _Resource, uses: _Uses, chain: Chain, via: str = "",
                        function: Optional[cst.FunctionDef] = None) -> None:
        entry = resource.entry
        if entry is None or uses.escapes or uses.managed:
            return
        closes = set(entry["closes"])
        if closes & uses.method_refs:
            return
        name = resource.name

        def closes_in(block: cst.CSTNode) -> bool:
            return bool(_calls_method(block, name, closes))

        if chain and _finally_covers(chain, closes_in):
            return
        closed = [m for m, _ in uses.method_calls if m in closes]
        origin = f"`{via}` (which returns `{resource.ctor}(...)`)" if via else f"`{resource.ctor}(...)`"
        detail = (
            f"`{name}.{closed[0]}()` is not in a `finally`, so an exception or an early return before it skips it"
            if closed
            else "nothing closes it"
        )
        message = (
            f"`{name}` holds {entry['leaks']} from {origin} and is not closed on every path: {detail}. "
            f"{self._fix(via[:-2] if via else resource.ctor, entry, name)}."
        )
        fix = None
        if function is not None and function.asynchronous is not None and not closed and not via:
            fix = managed(name, resource.small, resource.call, entry, chain, function)
        self._report_at(resource.small, chain[-2] if len(chain) > 1 else None, message, "ARV301", resource.ctor, fix=fix)

    @staticmethod
    def _fix(ctor: str, entry: Entry, name: str) -> str:
        how = entry["with"]
        close = f"{'await ' if entry['async'] else ''}{name}.{entry['close']}()"
        if how == "try/finally":
            return f"Close it in a `finally`: `try: ... finally: {close}`"
        if "(...)" in how:
            prefix, _, suffix = how.partition("(...)")
            return f"Use `{prefix}({ctor}(...)){suffix} as {name}:`"
        return f"Use `{how} {ctor}(...) as {name}:`"

    # -- locks ------------------------------------------------------------------------------------
    def _looks_like_lock(self, receiver: str) -> bool:
        last = receiver.rsplit(".", 1)[-1].lower()
        return last.endswith(self.tables.lock_suffixes)

    def _judge_acquire(self, func: _Function, call: cst.Call, receiver: str, lock_type: Optional[str], awaited: bool, chain: Chain) -> None:
        if not chain:
            return
        statement, index = _statement_of(chain)
        if statement is None:
            return
        if isinstance(statement, cst.SimpleStatementLine) and any(isinstance(n, cst.Return) for n in chain[index:]):
            return  # `return lock.acquire()`: a wrapper hands the job to its caller
        releases = _calls_method(func.node.body, receiver, {"release"})
        if any(any(isinstance(p, _NESTED) for p in parents) for _, parents in releases):
            return  # released by a callback (`task.add_done_callback(lambda _: sem.release())`)
        if self._released_after_handover(func, receiver):
            return  # the slot goes with a task or a callback that releases it
        if _hands_over(func.node.body, receiver):
            return  # passed on or returned: whoever gets it releases it (`return pidlock`)
        # Only a release after the acquire pairs with it; one before it (a semaphore resized in
        # a loop) belongs to another acquire, maybe in another method.
        order = {id(node): number for number, (node, _) in enumerate(_walk(func.node.body))}
        releases = [r for r in releases if order.get(id(r[0]), -1) > order.get(id(call), -1)]

        def releases_in(block: cst.CSTNode) -> bool:
            return bool(_calls_method(block, receiver, {"release"}))

        guard = None
        if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Assign):
            target = statement.body[0].targets[0].target
            guard = target.value if isinstance(target, cst.Name) else None
        if _finally_covers(chain, releases_in, guard):
            return
        head, _, attr = receiver.partition(".")
        if head == "self" and "." not in attr and func.owner is not None:
            # The class knows the attribute's type, and whether another method releases it
            # (`__aenter__` acquires, `__aexit__` releases): it decides.
            method = func.node.name.value
            exposed = _fails_before_return(chain, releases_in) if method in _EXIT_OF else None
            func.owner.acquires.append((method, attr, call, awaited, statement, bool(releases), exposed))
            return
        if lock_type is None and not self._looks_like_lock(receiver):
            return
        if not releases and self._counting(receiver, lock_type):
            return  # a semaphore acquired here and released by another task: signalling
        self._report_acquire(call, receiver, awaited, statement, released=bool(releases))

    def _released_after_handover(self, func: _Function, receiver: str) -> bool:
        """Whether the lock goes, still held, to code that runs later and releases it: its bound
        `release` passed uncalled (`add_done_callback(functools.partial(sem.release))`,
        `call_soon(lock.release)`), or a same-file function or method handed to a hand-over call
        (`create_task(worker())`, `add_done_callback(self._done)`) whose body releases it."""
        for node, parents in _walk(func.node.body):
            if (
                isinstance(node, cst.Attribute)
                and node.attr.value == "release"
                and dotted_name(node.value) == receiver
                and not (parents and isinstance(parents[-1], cst.Call) and parents[-1].func is node)
            ):
                return True
            if isinstance(node, cst.Call) and _last_name(node.func) in self.tables.handovers:
                for arg in node.args:
                    target = self._function_run_by(arg.value, func)
                    if target is not None and _calls_method(target.body, receiver, {"release"}):
                        return True
        return False

    def _function_run_by(self, value: cst.BaseExpression, func: _Function) -> Optional[cst.FunctionDef]:
        """The same-file function `worker()`, `worker`, `self._worker` or `partial(worker, ...)`
        runs, if known."""
        while isinstance(value, cst.Call):
            if _last_name(value.func) in self.tables.wrappers and value.args:
                value = value.args[0].value
            else:
                value = value.func
        if isinstance(value, cst.Name):
            return self.module_defs.get(value.value)
        if (
            isinstance(value, cst.Attribute)
            and isinstance(value.value, cst.Name)
            and value.value.value == "self"
            and func.owner is not None
        ):
            for statement in getattr(func.owner.node.body, "body", ()):
                if isinstance(statement, cst.FunctionDef) and statement.name.value == value.attr.value:
                    return statement
        return None

    def _counting(self, receiver: str, lock_type: Optional[str]) -> bool:
        if lock_type is not None:
            return lock_type in self.tables.counting
        return receiver.rsplit(".", 1)[-1].lower().endswith(self.tables.counting_suffixes)

    def _report_acquire(self, call: cst.Call, receiver: str, awaited: bool, statement: cst.CSTNode, released: bool) -> None:
        how = "async with" if awaited else "with"
        detail = (
            f"`{receiver}.release()` is not in a `finally`" if released else f"nothing here calls `{receiver}.release()` in a `finally`"
        )
        message = (
            f"`{receiver}.acquire()` without a guaranteed release: {detail}, so an exception or cancellation "
            f"leaves it held and every later acquire waits forever. Use `{how} {receiver}:`."
        )
        self._report_at(call, statement, message, "ARV302")

    # -- judging a class --------------------------------------------------------------------------
    def _judge_class(self, cls: _Class) -> None:
        node = cls.node
        protocol = any(name in cls.methods for name in _PROTOCOL)
        closes = {name for name in cls.methods if name in self.tables.close_methods}
        external = False
        for base in node.bases:
            value = base.value.value if isinstance(base.value, cst.Subscript) else base.value
            local = dotted_name(value)
            if local in self.classes:
                base_protocol, base_closes, base_external = self.classes[local]
                protocol = protocol or base_protocol
                closes |= base_closes
                external = external or base_external
                continue
            qualified = self.names.qualify(value) or self.names.builtin(value) or local
            if qualified not in self.tables.neutral_bases:
                external = True
        if node.keywords:
            external = external or any(k.keyword.value == "metaclass" for k in node.keywords)
        self.classes[node.name.value] = (protocol, closes, external)

        for method, attr, call, awaited, statement, released, exposed in cls.acquires:
            lock_type = cls.types.get(attr)
            if lock_type not in self.tables.locks and not self._looks_like_lock(attr):
                continue
            exit_method = cls.methods.get(_EXIT_OF.get(method, ""))
            if exit_method is not None:
                self._judge_enter_acquire(cls, method, exit_method, attr, call, statement, exposed, lock_type)
                continue
            if not released and any(m != method for m in cls.releases.get(attr, ())):
                continue
            if not released and self._counting(attr, lock_type):
                continue
            self._report_acquire(call, f"self.{attr}", awaited, statement, released=released)

        if not cls.owned:
            return
        if closes and not protocol and not external:
            close = sorted(closes)[0]
            method_node = cls.methods.get(close)
            is_async = close == "aclose" or (method_node is not None and method_node.asynchronous is not None)
            attr, (ctor, entry) = sorted(cls.owned.items())[0]
            if is_async:
                fix = f"`async def __aenter__(self): return self` and `async def __aexit__(self, *exc): await self.{close}()`"
                usage = f"`async with {node.name.value}(...) as ...:`"
            else:
                fix = f"`def __enter__(self): return self` and `def __exit__(self, *exc): self.{close}()`"
                usage = f"`with {node.name.value}(...) as ...:`"
            self._report_at(
                node.name,
                node,
                f"class `{node.name.value}` owns `self.{attr}` ({ctor}: {entry['leaks']}) and has `{close}()` but no "
                f"context-manager protocol, so callers cannot write {usage} and must remember to close it on every path. Add {fix}.",
                "ARV303",
            )
        exit_method = cls.methods.get("__aexit__")
        if exit_method is None:
            return
        for attr, (ctor, entry) in sorted(cls.owned.items()):
            if not entry["async"]:
                continue
            state = self._closes_attr(cls, exit_method, attr, entry, set())
            if state == "awaited":
                continue
            close = f"self.{attr}.{entry['close']}()"
            detail = (
                f"calls `{close}` without `await`, so the close coroutine never runs"
                if state == "not-awaited"
                else f"never awaits `{close}`"
            )
            self._report_at(
                exit_method.name,
                exit_method,
                f"`{node.name.value}.__aexit__` {detail}: the {ctor} in `self.{attr}` keeps {entry['leaks']} open "
                f"after `async with`. Add `await {close}` to `__aexit__`.",
                "ARV304",
            )

    def _judge_enter_acquire(
        self, cls: _Class, method: str, exit_method: cst.FunctionDef, attr: str, call: cst.Call,
        statement: cst.CSTNode, exposed: Optional[cst.CSTNode], lock_type: Optional[str],
    ) -> None:
        """An acquire in `__aenter__` is the protocol when `__aexit__` releases the same attribute
        and nothing in `__aenter__` can fail after it unreleased."""
        receiver, exit_name = f"self.{attr}", exit_method.name.value
        if self._exit_releases(cls, exit_method, _attribute_aliases(cls, attr), set()):
            if exposed is None:
                return
            failing = cst.Module([]).code_for_node(exposed).strip().splitlines()[0]
            message = (
                f"`{receiver}.acquire()` in `{method}` stays held when `{method}` fails after it: `{exit_name}` "
                f"runs only once `{method}` has returned, so an exception or cancellation in `{failing}` leaves "
                f"it held and every later acquire waits forever. Release it in `except BaseException: "
                f"{receiver}.release(); raise` around the rest of `{method}`."
            )
        else:
            if not cls.releases.get(attr) and self._counting(attr, lock_type):
                return  # a semaphore nothing in the class releases: a signal, not a lock
            message = (
                f"`{receiver}.acquire()` in `{method}` is never released by `{exit_name}` (nor by a method it "
                f"calls), so leaving the `{'async with' if method == '__aenter__' else 'with'}` block leaves it "
                f"held and every later acquire waits forever. Release `{receiver}` in `{exit_name}`."
            )
        self._report_at(call, statement, message, "ARV302")

    def _exit_releases(self, cls: _Class, method: cst.FunctionDef, receivers: Set[str], seen: Set[str]) -> bool:
        """Whether `method` releases one of `receivers` (`self._lock`), itself or through a method
        of the class it calls (a call to a method the class does not define, or to `super()`,
        may: it is trusted)."""
        seen.add(method.name.value)
        for node, _ in _walk(method.body):
            if isinstance(node, cst.Attribute) and node.attr.value == "release":
                if dotted_name(node.value) in receivers:
                    return True
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
                continue
            owner = node.func.value
            if isinstance(owner, cst.Call) and dotted_name(owner.func) == "super":
                return True
            if dotted_name(owner) != "self":
                continue
            name = node.func.attr.value
            if name not in cls.methods:
                return True
            if name not in seen and self._exit_releases(cls, cls.methods[name], receivers, seen):
                return True
        return False

    def _closes_attr(self, cls: _Class, method: cst.FunctionDef, attr: str, entry: Entry, seen: Set[str]) -> str:
        """"awaited", "not-awaited" or "missing": what `method` (and the methods it awaits) does
        with `self.attr`'s async close."""
        seen.add(method.name.value)
        receiver = f"self.{attr}"
        state = "missing"
        for node, parents in _walk(method.body):
            if not isinstance(node, cst.Call):
                continue
            func = node.func
            if isinstance(func, cst.Attribute):
                target = dotted_name(func.value)
                if target == receiver and (func.attr.value in entry["closes"] or func.attr.value == "__aexit__"):
                    if any(isinstance(p, cst.Await) for p in parents):
                        return "awaited"
                    state = "not-awaited"
                    continue
                if target == "self" and func.attr.value in cls.methods and func.attr.value not in seen:
                    inner = self._closes_attr(cls, cls.methods[func.attr.value], attr, entry, seen)
                    if inner == "awaited":
                        return inner
                    state = inner if inner != "missing" else state
            if any(dotted_name(arg.value) == receiver for arg in node.args):
                return "awaited"  # handed to a helper that closes it
        return state


RULES = [Resources]
