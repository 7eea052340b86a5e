"""ARV509-ARV511: what a failure or a cancellation does to a coroutine's cleanup and to the results
it waits for. Cleanup placed after an `await` that can raise (ARV509), independent I/O awaited
one call at a time (ARV510), and failures that gather/wait hand back and nobody reads (ARV511).

Which calls clean up, which are I/O and which gather results are data in
rules/correctness/knowledge.toml; this module reads statement order against them."""

from __future__ import annotations

import functools
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.config import Settings
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Words
from asyncreview.tree import descendants, inner_children

_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_SNIPPET_CHARS = 60


class _Tables:
    def __init__(self) -> None:
        table = load_table("correctness", "knowledge")
        self.cleanup_methods: Set[str] = set(table["cleanup"]["methods"])
        self.cleanup_calls: Set[str] = set(table["cleanup"]["calls"])
        self.suppressors: Set[str] = set(table["cleanup"]["suppressors"])
        self.io_calls: Set[str] = set(table["concurrent-io"]["calls"])
        self.client_methods: Set[str] = set(table["concurrent-io"]["client-methods"])
        self.client_receivers: Tuple[str, ...] = tuple(table["concurrent-io"]["client-receivers"])
        self.collectors: Set[str] = set(table["concurrent-io"]["collect-methods"])
        self.pure_builtins: Set[str] = set(table["concurrent-io"]["pure-builtins"])
        self.gather_calls: Set[str] = set(table["discarded-results"]["gather"])
        self.wait_calls: Set[str] = set(table["discarded-results"]["wait"])
        self.spawners: Set[str] = set(table["discarded-results"]["spawners"])
        self.foreign: Set[str] = set(table["discarded-results"]["foreign"])
        self.winding_down: Set[str] = set(table["discarded-results"]["winding-down"])


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


def _in_order(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`root` and the nodes below it in source order, not entering nested functions or classes."""
    stack: List[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed([child for child in inner_children(node) if not isinstance(child, _NESTED)]))


def _statements(block: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    if isinstance(block, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=block.body)]
    return block.body  # type: ignore[attr-defined]


def _text(node: cst.CSTNode) -> str:
    code = " ".join(cst.Module([]).code_for_node(node).split())
    return code if len(code) <= _SNIPPET_CHARS else code[:_SNIPPET_CHARS - 3] + "..."


def _called(value: cst.BaseExpression) -> Optional[cst.Call]:
    """The call a statement's value makes, awaited or not."""
    if isinstance(value, cst.Await):
        value = value.expression
    return value if isinstance(value, cst.Call) else None


def _names(node: cst.CSTNode) -> Iterator[str]:
    for inner in descendants(node):
        if isinstance(inner, cst.Name):
            yield inner.value


class CleanupAndResults(Rule):
    codes = ("ARV509", "ARV510", "ARV511")
    family = "correctness"

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # Each way to report needs an `await` in a coroutine.
        tables = _tables()
        cleanups = Words(*tables.cleanup_methods, *{name.rsplit(".", 1)[-1] for name in tables.cleanup_calls})
        return AllOf(Words("async"), Words("await"), (
            AllOf(Words("finally", "except", "__aexit__"), cleanups),  # ARV509
            Words("for"),  # ARV510: a loop or a comprehension
            AllOf(Paired(mention_pairs(tables.gather_calls)), Words("return_exceptions")),  # ARV511
            Paired(mention_pairs(tables.wait_calls)),  # ARV511
        ))

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables()
        self.coroutine_frames: List[bool] = [False]
        self.functions: List[Optional[cst.FunctionDef]] = [None]  # the function each frame is (None: class, lambda)
        self.module_coroutines: Dict[str, cst.FunctionDef] = {}
        self.method_coroutines: List[Dict[str, cst.FunctionDef]] = [{}]  # per class: its `async def` methods
        self._does_io_memo: Dict[int, bool] = {}
        self._facts_memo: Dict[int, "_FunctionFacts"] = {}
        self.reported: Set[int] = set()
        self._results: Dict[int, Set[str]] = {}  # id of an await -> the names its result is bound to

    # -- scopes --------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.module_coroutines = {s.name.value: s for s in node.body if isinstance(s, cst.FunctionDef) and s.asynchronous}

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.coroutine_frames.append(False)
        self.functions.append(None)
        self.method_coroutines.append({s.name.value: s for s in _statements(node.body)
                                       if isinstance(s, cst.FunctionDef) and s.asynchronous})

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.coroutine_frames.pop()
        self.functions.pop()
        self.method_coroutines.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.coroutine_frames.append(node.asynchronous is not None)
        self.functions.append(node)
        if node.asynchronous is not None and node.name.value == "__aexit__":
            self._check_cleanup(_statements(node.body), "`__aexit__`")

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.coroutine_frames.pop()
        self.functions.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.coroutine_frames.append(False)
        self.functions.append(None)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.coroutine_frames.pop()
        self.functions.pop()

    # -- ARV509: cleanup a failure or a cancellation skips -------------------------------------
    def visit_Try(self, node: cst.Try) -> None:
        self._check_try(node)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self._check_try(node)

    def _check_try(self, node) -> None:
        if not self.coroutine_frames[-1]:
            return
        for handler in node.handlers:
            self._check_cleanup(_statements(handler.body), "an `except` handler")
        if node.finalbody is not None:
            self._check_cleanup(_statements(node.finalbody.body), "a `finally:` block")

    def _check_cleanup(self, statements: Sequence[cst.CSTNode], where: str) -> None:
        for cleanup, awaited in self._skipped(statements, None):
            if id(cleanup) in self.reported:
                continue
            self.reported.add(id(cleanup))
            self.report(
                cleanup,
                f"in {where}, `{_text(cleanup)}` runs only if `{_text(awaited)}` returns: when that await "
                f"raises or the task is cancelled there, this cleanup is skipped; put the await in a "
                f"`try:` and this call in its `finally:`",
                code="ARV509", kind="cleanup",
            )

    def _cleanup_call(self, small: cst.BaseSmallStatement) -> bool:
        call = _called(small.value) if isinstance(small, cst.Expr) else None
        if call is None:
            return False
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in self.tables.cleanup_methods:
            return True
        return self.names.qualify(call.func) in self.tables.cleanup_calls

    def _suppresses(self, node: cst.With) -> bool:
        return any(isinstance(item.item, cst.Call) and self.names.qualify(item.item.func) in self.tables.suppressors
                   for item in node.items)

    def _skipped(self, statements: Sequence[cst.CSTNode], pending: Optional[cst.Await]
                 ) -> Iterator[Tuple[cst.CSTNode, cst.Await]]:
        """(cleanup, the await before it that can skip it) in a block run in order; `pending` is
        the last await before the block that can raise past it. Leaves in self._after the last
        such await at the end of the block (None when the block never falls through: a branch
        that returns, raises, breaks or continues says nothing about what follows it)."""
        for statement in statements:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if pending is not None and self._cleanup_call(small):
                        yield small, pending
                    awaited = self._raising_await(small)
                    if awaited is not None:
                        pending = awaited
                        targets = small.targets if isinstance(small, cst.Assign) else [small] if isinstance(small, cst.AnnAssign) else []
                        self._results[id(awaited)] = {n for t in targets for n in _names(t.target)}
            elif isinstance(statement, (cst.Try, cst.TryStar)):
                # a nested `finally:` is where its author put cleanup on purpose: its own visit judges it
                entry = pending
                yield from self._skipped(_statements(statement.body), entry)
                after = (self._after or entry) if not statement.handlers else entry
                for handler in statement.handlers:
                    yield from self._skipped(_statements(handler.body), entry)
                    after = self._after or after
                if statement.orelse is not None:
                    yield from self._skipped(_statements(statement.orelse.body), after)
                    after = self._after or after
                if statement.finalbody is not None:
                    after = self._raising_await(statement.finalbody) or after
                pending = after
            elif isinstance(statement, (cst.If, cst.With, cst.For, cst.While)):
                after = pending
                # `ok = await reconnect()` then `if not ok: await self.disconnect()`: cleanup that
                # depends on the await's result is not skipped by it, it follows from it
                decided = isinstance(statement, cst.If) and pending is not None and bool(
                    set(_names(statement.test)) & self._results.get(id(pending), set()))
                for block in _blocks(statement):
                    yield from self._skipped(_statements(block), None if decided else pending)
                    after = self._after or after
                if not (isinstance(statement, cst.With) and self._suppresses(statement)):
                    pending = after
            elif not isinstance(statement, _NESTED):
                pending = self._raising_await(statement) or pending
        self._after = None if statements and _jumps(statements[-1]) else pending

    _after: Optional[cst.Await] = None

    def _raising_await(self, node: cst.CSTNode) -> Optional[cst.Await]:
        """The last await in `node` that can raise past it: not `gather(..., return_exceptions=True)`,
        which is built not to (waiting for cancelled tasks to end, the shutdown idiom)."""
        found = None
        for inner in _in_order(node):
            if isinstance(inner, cst.Await) and not (
                    isinstance(inner.expression, cst.Call) and self._returns_exceptions(inner.expression)
                    and self.names.qualify(inner.expression.func) in self.tables.gather_calls):
                found = inner
        return found

    # -- ARV510: sequential awaits that could run concurrently ---------------------------------
    def visit_For(self, node: cst.For) -> None:
        if not self.coroutine_frames[-1] or node.asynchronous is not None or node.orelse is not None:
            return
        targets = self._target_names(node.target)
        body = _statements(node.body)
        if targets is None or not all(isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 for s in body):
            return
        smalls = [s.body[0] for s in body]  # type: ignore[attr-defined]
        awaited: Optional[cst.Await] = None
        if len(smalls) == 1:
            stored = self._collected_value(smalls[0])
            awaited = stored if isinstance(stored, cst.Await) else None
        elif len(smalls) == 2 and isinstance(smalls[0], cst.Assign) and len(smalls[0].targets) == 1:
            result, stored = smalls[0].targets[0].target, self._collected_value(smalls[1])
            if (isinstance(result, cst.Name) and isinstance(smalls[0].value, cst.Await)
                    and isinstance(stored, cst.Name) and stored.value == result.value):
                awaited = smalls[0].value
        if awaited is not None:
            # the result and the collection: an argument reading one depends on the previous iteration
            outside = {n.value for small in smalls for n in descendants(small, (), [awaited]) if isinstance(n, cst.Name)}
            self._check_sequential(awaited, targets, bound_here=outside - targets)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._check_comprehension(node.elt, node.for_in)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._check_comprehension(node.value, node.for_in)

    def _check_comprehension(self, value: cst.BaseExpression, loop: cst.CompFor) -> None:
        if not self.coroutine_frames[-1] or not isinstance(value, cst.Await) or loop.asynchronous is not None or loop.inner_for_in is not None:
            return
        targets = self._target_names(loop.target)
        if targets is not None and not any(isinstance(n, cst.Await) for cond in loop.ifs for n in descendants(cond)):
            self._check_sequential(value, targets, bound_here=set())

    @staticmethod
    def _target_names(target: cst.BaseExpression) -> Optional[Set[str]]:
        if isinstance(target, cst.Name):
            return {target.value}
        if isinstance(target, cst.Tuple) and all(isinstance(e.value, cst.Name) for e in target.elements):
            return {e.value.value for e in target.elements}  # type: ignore[attr-defined]
        return None

    def _collected_value(self, small: cst.BaseSmallStatement) -> Optional[cst.BaseExpression]:
        """What a statement only stores into a named collection (`out.append(v)`, `out[k] = v`)."""
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            if (isinstance(call.func, cst.Attribute) and call.func.attr.value in self.tables.collectors
                    and len(call.args) == 1 and dotted_name(call.func.value)):
                return call.args[0].value
        elif (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Subscript)
              and dotted_name(small.targets[0].target.value)):
            return small.value
        return None

    def _check_sequential(self, awaited: cst.Await, loop_names: Set[str], bound_here: Set[str]) -> None:
        """`bound_here`: names the loop body binds besides its target (the result): an argument
        that reads one depends on the previous iteration."""
        call = awaited.expression
        if not isinstance(call, cst.Call) or not call.args or not self._is_io(call):
            return
        used: Set[str] = set()
        for arg in call.args:
            for inner in descendants(arg.value):
                if isinstance(inner, (cst.Await, cst.Lambda, cst.NamedExpr, cst.Yield)):
                    return
                if isinstance(inner, cst.Call) and self.names.builtin(inner.func) not in self.tables.pure_builtins:
                    return  # a call in the arguments may have effects each iteration depends on
            used.update(_names(arg.value))
        if not used & loop_names or used & bound_here:
            return
        callee = _text(call.func)
        self.report(
            awaited,
            f"each `{callee}(...)` waits for the previous one: its arguments depend only on the loop "
            f"variable and the results are only collected, so `asyncio.gather()` (or a TaskGroup) "
            f"could run them concurrently; keep the loop if order matters: a rate limit or a "
            f"connection that serves one request at a time, side effects that must happen in "
            f"sequence, or results that must stop at the first failure",
            code="ARV510", kind=callee,
        )

    def _is_io(self, call: cst.Call) -> bool:
        """A client call (a method the table knows on a receiver of known type, or a request
        method on a receiver named like a client), or a coroutine of this module (or of the
        class, through `self`) that awaits one: a coroutine that only converts or validates
        data gains nothing from running concurrently."""
        func = call.func
        coroutine = None
        if isinstance(func, cst.Name) and not any(func.value in scope.bound for scope in self.names.scopes[1:]):
            coroutine = self.module_coroutines.get(func.value)  # not a local of that name
        elif isinstance(func, cst.Attribute) and dotted_name(func.value) == "self":
            coroutine = self.method_coroutines[-1].get(func.attr.value)
        if coroutine is not None:
            return self._does_io(coroutine)
        return self._client_call(call) or self.names.qualify(func) in self.tables.io_calls

    def _client_call(self, call: cst.Call) -> bool:
        """`session.get(url)`, `self._client.post(...)`: a request method on a receiver whose
        name says it is a client."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in self.tables.client_methods:
            return False
        receiver = dotted_name(func.value)
        last = receiver.rsplit(".", 1)[-1].strip("_").lower() if receiver else ""
        return any(last.endswith(suffix) for suffix in self.tables.client_receivers)

    def _does_io(self, function: cst.FunctionDef) -> bool:
        if id(function) not in self._does_io_memo:
            self._does_io_memo[id(function)] = self._awaits_a_client(function)
        return self._does_io_memo[id(function)]

    def _awaits_a_client(self, function: cst.FunctionDef) -> bool:
        return any(isinstance(node, cst.Await) and isinstance(node.expression, cst.Call) and self._client_call(node.expression)
                   for node in descendants(function.body, _NESTED))

    # -- ARV511: failures gather/wait hand back that nobody reads ------------------------------
    def visit_Await(self, node: cst.Await) -> None:
        call = node.expression
        function = self.functions[-1]
        if not self.coroutine_frames[-1] or function is None or not isinstance(call, cst.Call):
            return
        name = self.names.qualify(call.func)
        if name in self.tables.wait_calls or (name in self.tables.gather_calls and self._returns_exceptions(call)):
            self._check_discarded_results(function, node, name in self.tables.gather_calls)

    def _facts(self, function: cst.FunctionDef) -> "_FunctionFacts":
        if id(function) not in self._facts_memo:
            self._facts_memo[id(function)] = _FunctionFacts(function, self._target_names)
        return self._facts_memo[id(function)]

    def _check_discarded_results(self, function: cst.FunctionDef, awaited: cst.Await, gathered: bool) -> None:
        facts = self._facts(function)
        call: cst.Call = awaited.expression  # type: ignore[assignment]
        for index, node in enumerate(facts.ordered):
            if isinstance(node, cst.Expr) and node.value is awaited:
                targets: Sequence[cst.BaseExpression] = ()
                break
            if isinstance(node, cst.Assign) and node.value is awaited and len(node.targets) == 1:
                targets = self._elements(node.targets[0].target)
                break
        else:
            return  # returned, passed on or part of an expression: the result is used
        if gathered:
            waited_on = [arg for arg in call.args if arg.keyword is None]
            if any(not _unread(t, facts.reads) for t in targets):
                return
        else:
            waited_on = list(call.args[:1])
            if targets and not _unread(targets[0], facts.reads):
                return
        inside = {id(n) for n in descendants(node)}
        later = [n for n in facts.ordered[index + 1:] if id(n) not in inside]  # after the statement
        if self._looked_after(waited_on, facts.ordered[:index], later, facts.cancelled, gathered):
            return
        if gathered:
            message = (f"`{_text(call.func)}(..., return_exceptions=True)` returns the failures as values "
                       f"and nothing reads them: every exception of these awaitables is silently lost; "
                       f"check the results (`isinstance(result, BaseException)`) or drop return_exceptions")
        else:
            message = (f"`{_text(call.func)}()` never raises: failures stay in the tasks of its done set, "
                       f"which is never checked here, so they are lost (asyncio only logs \"Task "
                       f"exception was never retrieved\"); call `.result()` on the done tasks")
        self.report(call, message, code="ARV511", kind="gather" if gathered else "wait")

    @staticmethod
    def _elements(target: cst.BaseAssignTargetExpression) -> Sequence[cst.BaseExpression]:
        if isinstance(target, (cst.Tuple, cst.List)):
            return [element.value for element in target.elements]
        return [target]

    @staticmethod
    def _returns_exceptions(call: cst.Call) -> bool:
        return any(arg.keyword is not None and arg.keyword.value == "return_exceptions"
                   and isinstance(arg.value, cst.Name) and arg.value.value == "True" for arg in call.args)

    @staticmethod
    def _references(args: Sequence[cst.Arg]) -> Set[str]:
        """The tasks and futures the arguments name (`*tasks`, `[self._waiter, fut]`,
        `pending.values()`, `list(tasks)`); not the names a comprehension reads."""
        found: Set[Optional[str]] = set()
        for arg in args:
            value = arg.value
            if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                found.update(dotted_name(e.value) for e in value.elements)
            elif isinstance(value, cst.Call):
                found.add(_iterated(value))
            else:
                found.add(dotted_name(value))
        return {name for name in found if name}

    def _looked_after(self, args: Sequence[cst.Arg], before: Sequence[cst.CSTNode], later: Sequence[cst.CSTNode],
                      cancelled: Set[Optional[str]], gathered: bool) -> bool:
        """Whether the awaited work is dealt with otherwise, or not this coroutine's to check:
        it was cancelled here (waiting for a cancellation to end is the point), is read again
        after the call (`if waiter.done(): waiter.result()`), was not started here (tasks and
        futures of others: signals, handlers that report their own errors), or winds something
        down (`gather(*(c.close() for c in conns), return_exceptions=True)`: best effort)."""
        references = self._references(args)
        if references & cancelled:
            return True
        if any(isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) in references for node in later):
            return True
        work = list(self._started_work(args, before, references, gathered))
        return not work or any(self._winds_down(call) for call in work)

    def _started_work(self, args: Sequence[cst.Arg], before: Sequence[cst.CSTNode], references: Set[str],
                      gathered: bool) -> Iterator[Optional[cst.Call]]:
        """The work the call waits for that this coroutine started: what it hands to a task
        spawner (`create_task(fetch(u))`; None when that is not a call) or a coroutine call
        gathered directly, in the arguments or in what the named list was built from."""
        # (expression, whether a call there is itself the work: a coroutine gathered directly)
        roots: List[Tuple[cst.BaseExpression, bool]] = [(arg.value, gathered and not arg.star) for arg in args]
        for node in before:
            if isinstance(node, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value in references
                                                    for t in node.targets):
                roots.append((node.value, False))
            elif (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.args
                  and node.func.attr.value in self.tables.collectors and dotted_name(node.func.value) in references):
                roots.append((node.args[0].value, False))
        for root, direct in roots:
            if isinstance(root, (cst.GeneratorExp, cst.ListComp, cst.SetComp)):
                elements, direct = [root.elt], gathered
            elif isinstance(root, (cst.List, cst.Tuple, cst.Set)):
                elements, direct = [e.value for e in root.elements], gathered
            else:
                elements = [root]
            for element in elements:
                if not isinstance(element, cst.Call) or _last_name(element.func) in self.tables.foreign:
                    continue
                if _last_name(element.func) in self.tables.spawners:
                    inner = element.args[0].value if element.args else None
                    yield inner if isinstance(inner, cst.Call) else None
                elif direct:
                    yield element

    def _winds_down(self, call: Optional[cst.Call]) -> bool:
        words = set((_last_name(call.func) or "").split("_")) if call is not None else set()
        return bool(words & self.tables.winding_down)


def _last_name(node: cst.BaseExpression) -> Optional[str]:
    dotted = dotted_name(node)
    return dotted.rsplit(".", 1)[-1] if dotted else None


def _iterated(node: cst.BaseExpression) -> Optional[str]:
    """What a loop goes through, by name: `tasks`, `tasks.values()`, `list(tasks)`."""
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute):
            return dotted_name(node.func.value)
        return dotted_name(node.args[0].value) if node.args else None
    return dotted_name(node)


class _FunctionFacts:
    """What ARV511 reads of a coroutine, gathered once and only for one that gathers or waits:
    its nodes in order, the tasks it cancels and how often each name is written."""

    def __init__(self, function: cst.FunctionDef, target_names) -> None:
        self.ordered = list(_in_order(function.body))
        self.cancelled: Set[Optional[str]] = {
            dotted_name(n.func.value) for n in self.ordered
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "cancel"}
        for node in self.ordered:
            if isinstance(node, cst.For) and any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                                                 and n.func.attr.value == "cancel"
                                                 and dotted_name(n.func.value) in (target_names(node.target) or ())
                                                 for n in descendants(node.body)):
                self.cancelled.add(_iterated(node.iter))  # `for task in pending.values(): task.cancel()`
        self.reads: Dict[str, int] = {}
        for node in descendants(function.body):  # closures read names too
            if isinstance(node, cst.Name):
                self.reads[node.value] = self.reads.get(node.value, 0) + 1


def _unread(target: cst.BaseExpression, reads: Dict[str, int]) -> bool:
    """A name bound and never read in the function (`_`, or written once: only here)."""
    return isinstance(target, cst.Name) and (target.value == "_" or reads.get(target.value, 0) <= 1)


def _jumps(statement: cst.CSTNode) -> bool:
    """Whether a statement never falls through: it returns, raises, breaks or continues, or is an
    if/elif/else whose every branch does."""
    if isinstance(statement, cst.SimpleStatementLine):
        return isinstance(statement.body[-1], (cst.Return, cst.Raise, cst.Break, cst.Continue))
    if isinstance(statement, cst.If) and statement.orelse is not None:
        return all(_statements(block) and _jumps(_statements(block)[-1]) for block in _blocks(statement))
    return False


def _blocks(statement: cst.CSTNode) -> Iterator[cst.BaseSuite]:
    """The blocks of an if/with/for/while, an if's elif and else chain included."""
    yield statement.body  # type: ignore[attr-defined]
    other = getattr(statement, "orelse", None)
    while other is not None:
        yield other.body
        other = other.orelse if isinstance(other, cst.If) else None


RULES = [CleanupAndResults]
