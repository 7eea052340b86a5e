"""ARV5xx: coroutine correctness. Code that parses, runs in tests and breaks under cancellation or
at run time: a swallowed CancelledError, a threading lock on the event loop, a loop started from
inside a running one.

Which exceptions carry cancellation, which types are thread locks and which calls run or fetch a
loop are data in rules/correctness/knowledge.toml; this module reads handlers, `with` statements
and calls of coroutines against them."""

from __future__ import annotations

import functools
from typing import Dict, Iterator, List, Optional, Sequence, Set

import libcst as cst

from asyncreview.catalogue import load_table, rule_docs
from asyncreview.config import Settings
from asyncreview.finding import Severity
from asyncreview.fixes import Rewrite
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Report, Rule, Words
from asyncreview.tree import descendants

_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LOOPS = (cst.For, cst.While)
_BARE_EXCEPT = rb"except(?:\s|\\)*\*?(?:\s|\\)*:"


class _Tables:
    def __init__(self) -> None:
        table = load_table("correctness", "knowledge")
        self.catch_all: Set[str] = set(table["cancellation"]["catch-all"])
        self.cancellation: Set[str] = set(table["cancellation"]["names"])
        self.deliberate: Set[str] = set(table["cancellation"]["deliberate-methods"])
        self.thread_locks: Set[str] = set(table["thread-locks"]["types"])
        self.runner_calls: Set[str] = set(table["loop-runners"]["calls"])
        self.runner_methods: Set[str] = set(table["loop-runners"]["methods"])
        self.loop_getters: Set[str] = set(table["loop-getters"]["calls"])
        self.never_returns: Set[str] = set(table["never-returns"]["annotations"])
        self.reporting_calls: Set[str] = set(table["cancellation"]["reporting-calls"])
        conversion = table["cancellation-conversion"]
        self.cancellation_words: List[str] = list(conversion["cancellation-words"])
        self.unreachable_markers: Set[str] = set(conversion["unreachable-markers"])
        self.cancellation_getters: Set[str] = set(conversion["cancellation-getters"])
        self.cancellation |= {f"{getter}()" for getter in self.cancellation_getters}  # as `except` names them


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


def _walk(root: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> Iterator[cst.CSTNode]:
    """Nodes under root in the same function: nested functions, lambdas and classes are not entered."""
    return descendants(root, _NESTED, skip)


def _suspends(root: cst.CSTNode) -> bool:
    """Whether a block can be suspended (and so receive a cancellation) in this function."""
    for node in _walk(root):
        if isinstance(node, cst.Await):
            return True
        if isinstance(node, (cst.For, cst.With)) and node.asynchronous is not None:
            return True
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            if any(isinstance(n, cst.CompFor) and n.asynchronous is not None for n in _walk(node)):
                return True
    return False


def _leaving_statements(final: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`return` anywhere in a finally block, and `break`/`continue` that leave it (not those of
    a loop inside it)."""
    inner_loops = [n for n in _walk(final) if isinstance(n, _LOOPS)]
    for node in _walk(final):
        if isinstance(node, cst.Return):
            yield node
    for node in _walk(final, inner_loops):
        if isinstance(node, (cst.Break, cst.Continue)):
            yield node


class _Frame:
    __slots__ = ("is_async", "handlers")

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.handlers: List[cst.ExceptHandler] = []  # the except clauses the walk is in


class _Swallow:
    """A handler that swallows a cancellation (or turns it into another exception) unless what the
    rest of the file says excuses it:
    the try awaits a task the file cancels, or the handler ends in a call that never returns."""
    __slots__ = ("handler", "message", "statement", "place", "awaited", "last_call", "severity", "kind")

    def __init__(self, handler, message, statement, place, awaited, last_call, severity=None, kind="except") -> None:
        self.handler = handler
        self.message = message
        self.statement = statement
        self.place = place
        self.awaited: Set[str] = awaited  # dotted names the try body awaits on
        self.last_call: Optional[str] = last_call  # the last part of the handler's final call
        self.severity: Optional[Severity] = severity  # None: the catalogue's
        self.kind = kind


class CoroutineCorrectness(Rule):
    codes = ("ARV501", "ARV502", "ARV503", "ARV504")
    family = "correctness"

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # One alternative per way to report; every one needs a coroutine.
        tables = _tables()
        cancels = Words(*{name.rsplit(".", 1)[-1].rstrip("()") for name in tables.catch_all | tables.cancellation})
        return AllOf(Words("async"), (
            AllOf(Words("except"), (_BARE_EXCEPT, cancels)),  # ARV501: a handler
            AllOf(Words("finally"), Words("return", "break", "continue", "yield")),  # ARV501: finally
            AllOf(Words("with"), Paired(mention_pairs(tables.thread_locks))),  # ARV502
            Paired(mention_pairs(tables.runner_calls)),  # ARV503: asyncio.run
            Words(*tables.runner_methods),  # ARV503: loop.run_until_complete
            Paired(mention_pairs(tables.loop_getters)),  # ARV504
        ))

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables()
        self.frames: List[_Frame] = [_Frame(False)]
        self.lock_attributes: List[Dict[str, str]] = [{}]  # per class: self attribute -> thread lock type
        self._awaited_calls: Set[int] = set()  # ids of calls awaited or passed on (not a loop's method)
        self.cancelled: Set[str] = set()  # receivers of `.cancel()` anywhere in the file
        self.never_return: Set[str] = set()  # functions of the file that always raise
        self.swallows: List[_Swallow] = []
        self._yields_reported: Set[int] = set()

    # -- scopes --------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append(_Frame(node.asynchronous is not None))
        returns = node.returns.annotation if node.returns is not None else None
        if (returns is not None and self.names.qualify(returns) in self.tables.never_returns) or _always_raises(node.body.body):
            self.never_return.add(node.name.value)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.frames[-1].handlers.append(node)

    def leave_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.frames[-1].handlers.pop()

    def visit_For(self, node: cst.For) -> None:
        """`for task in pending: task.cancel()`: `pending` is cancelled."""
        target = dotted_name(node.target)
        iterated = dotted_name(node.iter)
        if target and iterated and self._cancels(node.body, target):
            self.cancelled.add(iterated)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(_Frame(False))

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.append(_Frame(False))
        attributes: Dict[str, str] = {}
        for inner in _walk_class(node):
            if isinstance(inner, cst.Assign) and isinstance(inner.value, cst.Call):
                made = self.names.call_result_type(inner.value)
                if made not in self.tables.thread_locks:
                    continue
                for target in inner.targets:
                    if isinstance(target.target, cst.Attribute) and dotted_name(target.target.value) == "self":
                        attributes[target.target.attr.value] = made  # type: ignore[assignment]
        self.lock_attributes.append(attributes)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.pop()
        self.lock_attributes.pop()

    @property
    def _in_coroutine(self) -> bool:
        return self.frames[-1].is_async

    # -- ARV501: cancellation swallowed --------------------------------------------------------
    def visit_Try(self, node: cst.Try) -> None:
        self._check_try(node)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self._check_try(node)

    def _check_try(self, node) -> None:
        if not self._in_coroutine or not _suspends(node.body):
            return
        self._check_yields(node)
        # in a handler that re-raises, a cancellation swallowed here ends the task anyway
        # (`except BaseException: try: await ws.close() except BaseException: pass; raise`)
        if not any(self._propagates(outer) for outer in self.frames[-1].handlers):
            self._check_handlers(node)
        if node.finalbody is not None:
            for leaving in _leaving_statements(node.finalbody):
                keyword = type(leaving).__name__.lower()
                self.report(
                    leaving,
                    f"`{keyword}` in the `finally:` of a coroutine discards the exception in flight, "
                    f"asyncio.CancelledError included: the task cannot be cancelled here; move the "
                    f"`{keyword}` after the try statement",
                    code="ARV501", kind="finally",
                )

    def _check_yields(self, node) -> None:
        """ARV501: `yield` in an async generator's handler of the cancellation, or in its `finally:`
        (flake8-async's ASYNC104): the consumer's `async for` gets a value instead of the
        CancelledError, and if it stops there the cancellation is lost; on `aclose()` a yield in
        `finally:` is a RuntimeError. Re-raising afterwards does not help."""
        blocks = []
        for handler in node.handlers:
            if self._cancel_catcher(handler.type) is not None:
                blocks.append(handler.body)
                break
        if node.finalbody is not None:
            blocks.append(node.finalbody)
        for block in blocks:
            for found in _walk(block):
                if isinstance(found, cst.Yield) and id(found) not in self._yields_reported:
                    self._yields_reported.add(id(found))
                    self.report(
                        found,
                        "`yield` while an async generator handles a cancellation (in its handler or "
                        "`finally:`): the consumer's `async for` receives a value instead of "
                        "asyncio.CancelledError, and the cancellation is lost if it stops iterating; "
                        "leave the handler first (or `raise`) and yield after the try statement",
                        code="ARV501", kind="yield",
                    )

    def _check_handlers(self, node) -> None:
        awaited = {dotted for n in _walk(node.body) if isinstance(n, cst.Await)
                   for inner in _walk(n.expression) if isinstance(inner, (cst.Name, cst.Attribute))
                   for dotted in [dotted_name(inner)] if dotted}
        if any(isinstance(n, cst.Await) and isinstance(n.expression, (cst.Name, cst.Attribute)) for n in _walk(node.body)):
            return  # `await self._task`: waits for a task or future, whose cancellation is the one expected
        for handler in node.handlers:
            catcher = self._cancel_catcher(handler.type)
            if catcher is None:
                continue
            converted = self._converted_to(handler)
            if converted is not None:
                message = (
                    f"{catcher} in a coroutine turns asyncio.CancelledError into `{converted}`: the "
                    f"task ends with an error instead of being cancelled, so `asyncio.timeout()` "
                    f"raises it rather than TimeoutError, a TaskGroup takes it for a failure (an "
                    f"ExceptionGroup) and `task.cancelled()` is False; re-raise the cancellation "
                    f"(`except asyncio.CancelledError: raise` first) or raise a subclass of it"
                )
                self.swallows.append(_Swallow(handler, message, self.context.statements[-1], self.context.place,
                                              awaited, None, Severity.WARNING, "converted"))
            elif not self._propagates(handler) and not self._hands_on(handler):
                message = (
                    f"{catcher} in a coroutine swallows asyncio.CancelledError: the handler neither "
                    f"re-raises nor ends the task on purpose, so the coroutine goes on (or returns "
                    f"normally to its caller) instead of being cancelled, and `task.cancel()`, "
                    f"timeouts and TaskGroup shutdown do not stop it; end the handler with `raise`"
                )
                if not self._names_cancellation(handler.type):
                    message += ", or put `except asyncio.CancelledError: raise` before it"
                self.swallows.append(_Swallow(handler, message, self.context.statements[-1], self.context.place,
                                              awaited, _final_call(handler)))
            if catcher is not None:
                break  # later handlers never see the cancellation (after `except BaseException:`, nothing)

    def leave_Module(self, node: cst.Module) -> None:
        """Judge the handlers now that the whole file is known: awaiting a task the file cancels
        (`task.cancel()` then `try: await task except CancelledError: pass`, the documented idiom)
        expects the cancellation it asked for; a handler ending in a call of the file's own
        function that never returns (`-> NoReturn`, or raises on every path) re-raises."""
        if "ARV501" not in self.context.settings.enabled:
            return
        severity = rule_docs(self.family)["ARV501"].severity
        for swallow in self.swallows:
            if swallow.awaited & self.cancelled or swallow.last_call in self.never_return:
                continue
            self.context.reports.append(Report(swallow.handler, "ARV501", swallow.message, swallow.severity or severity,
                                               swallow.statement, "", swallow.place, swallow.kind))

    def _converted_to(self, handler: cst.ExceptHandler) -> Optional[str]:
        """The exception a handler of the cancellation raises instead of it on its way out that no
        condition guards (`raise ConfigEntryNotReady(...) from err`), or None. A raise under a
        condition is left alone (`if isinstance(exc, OSError): raise Retry() from exc`: the
        cancellation takes the other way), as is a handler that `uncancel()`s on purpose (a
        timeout helper turning its own cancellation into TimeoutError)."""
        raised = _unconditional_raise(handler.body.body)
        if raised is None or raised.exc is None or self._deliberate(handler):
            return None
        exception = raised.exc.func if isinstance(raised.exc, cst.Call) else raised.exc
        if isinstance(exception, cst.Attribute) and exception.attr.value == "with_traceback":
            exception = exception.value  # `raise exc.with_traceback(tb)`
        bound = handler.name.name.value if handler.name is not None and isinstance(handler.name.name, cst.Name) else None
        name = dotted_name(exception)
        if name is None or name == bound:
            return None
        qualified = self.names.qualify(exception) or self.names.builtin(exception) or name
        last = name.rsplit(".", 1)[-1]
        if qualified in self.tables.unreachable_markers or qualified in self.tables.cancellation or any(
                word in last for word in self.tables.cancellation_words):
            return None
        return name

    def _hands_on(self, handler: cst.ExceptHandler) -> bool:
        """A handler that hands its exception on: stores it (`errors.append(exc)`, `first = exc`,
        to raise later) or passes it to a call that is not only a report of it
        (`self._convert_socket_error(exc)`, `future.set_exception(exc)`)."""
        if handler.name is None or not isinstance(handler.name.name, cst.Name):
            return False
        bound = handler.name.name.value
        for node in _walk(handler.body):
            if isinstance(node, (cst.Assign, cst.AnnAssign)) and isinstance(node.value, cst.Name) and node.value.value == bound:
                return True
            if isinstance(node, cst.Call) and any(arg.keyword is None and not arg.star and isinstance(arg.value, cst.Name)
                                                  and arg.value.value == bound for arg in node.args):
                callee = dotted_name(node.func)
                if callee is None or callee.rsplit(".", 1)[-1] not in self.tables.reporting_calls:
                    return True
        return False

    def _cancels(self, body: cst.CSTNode, receiver: str) -> bool:
        return any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "cancel"
                   and dotted_name(n.func.value) == receiver for n in _walk(body))

    def _exception_names(self, node: cst.BaseExpression) -> Iterator[Optional[str]]:
        if isinstance(node, cst.Tuple):
            for element in node.elements:
                yield from self._exception_names(element.value)
        elif isinstance(node, cst.Call):  # `except anyio.get_cancelled_exc_class():`
            getter = (dotted_name(node.func) or "").rsplit(".", 1)[-1]
            yield f"{getter}()" if getter in self.tables.cancellation_getters else None
        else:
            yield self.names.qualify(node) or self.names.builtin(node)

    def _names_cancellation(self, node: Optional[cst.BaseExpression]) -> bool:
        return node is not None and any(name in self.tables.cancellation for name in self._exception_names(node))

    def _cancel_catcher(self, node: Optional[cst.BaseExpression]) -> Optional[str]:
        """How an except clause catches cancellation: a bare `except:`, BaseException or
        CancelledError; None when it does not."""
        if node is None:
            return "A bare `except:`"
        for name in self._exception_names(node):
            if name in self.tables.cancellation:
                return f"`except {name}`"
            if name in self.tables.catch_all:
                return "`except BaseException`"
        return None

    def _propagates(self, handler: cst.ExceptHandler) -> bool:
        """A handler that raises on every way out of it (the exception or another: the task still
        ends, not silently; another one on the unguarded way is `_converted_to`'s) or that calls `uncancel()` (it took the cancellation back on purpose).
        `if closing: return` before the `raise`, or a `raise` only in a branch, swallows it on
        the other path (flake8-async's ASYNC103/104 read handlers so too)."""
        return self._deliberate(handler) or _ends_in_raise(handler.body.body)

    def _deliberate(self, handler: cst.ExceptHandler) -> bool:
        """The handler calls `uncancel()` or `cancelling()`: it decides about the cancellation on purpose."""
        return any(isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                   and node.func.attr.value in self.tables.deliberate for node in _walk(handler.body))

    # -- ARV502: thread locks ------------------------------------------------------------------
    def _thread_lock(self, node: cst.BaseExpression) -> Optional[str]:
        found: Optional[str] = None
        if isinstance(node, cst.Call):
            found = self.names.call_result_type(node)
        elif isinstance(node, cst.Name):
            found = self.names.local_type(node.value)
        elif isinstance(node, cst.Attribute) and dotted_name(node.value) == "self":
            found = self.lock_attributes[-1].get(node.attr.value)
        return found if found in self.tables.thread_locks else None

    def visit_With(self, node: cst.With) -> None:
        if not self._in_coroutine:
            return
        for item in node.items:
            lock = self._thread_lock(item.item)
            if lock is None:
                continue
            if node.asynchronous is not None:
                self.report(
                    item.item,
                    f"`async with` on a `{lock}`: it has no `__aenter__`, so this raises TypeError "
                    f"at run time; use `asyncio.{lock.rsplit('.', 1)[-1]}`",
                    code="ARV502", kind=lock,
                )
            elif _suspends(node.body):
                self.report(
                    item.item,
                    f"a `{lock}` is held across an `await`: another task that takes it blocks the "
                    f"whole event loop (or deadlocks it); use `asyncio.{lock.rsplit('.', 1)[-1]}` "
                    f"with `async with`, or release it before awaiting",
                    code="ARV502", kind=lock,
                )

    # -- ARV503/ARV504: event-loop API ---------------------------------------------------------
    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited_calls.add(id(node.expression))

    def _passed_on(self, node: cst.Call) -> None:
        """`create_task(worker.run_forever())`: a call whose result another call takes is a
        coroutine handed on, not a loop's method."""
        self._awaited_calls.update(id(arg.value) for arg in node.args if isinstance(arg.value, cst.Call))

    def visit_Call(self, node: cst.Call) -> None:
        self._passed_on(node)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "cancel":
            receiver = dotted_name(node.func.value)
            if receiver:
                self.cancelled.add(receiver)
        if not self._in_coroutine:
            return
        name = self.names.qualify(node.func)
        if name in self.tables.runner_calls or (
            isinstance(node.func, cst.Attribute) and node.func.attr.value in self.tables.runner_methods
            and id(node) not in self._awaited_calls
        ):
            called = name if name in self.tables.runner_calls else node.func.attr.value  # type: ignore[union-attr]
            self.report(
                node,
                f"`{called}()` inside a coroutine: an event loop is already running in this thread, "
                f"so this raises RuntimeError; `await` the coroutine instead",
                code="ARV503", kind=called,
            )
        elif name in self.tables.loop_getters:
            self.report(
                node,
                "`asyncio.get_event_loop()` inside a coroutine: use `asyncio.get_running_loop()`, "
                "which says what is meant and never creates or returns another loop",
                code="ARV504", kind=name,  # type: ignore[arg-type]
                fix=_running_loop(node),
            )


def _always_raises(statements: Sequence[cst.CSTNode]) -> bool:
    """Whether a block ends in `raise` on every path (an if/elif/else whose branches all do)."""
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return any(isinstance(small, cst.Raise) for small in last.body)
    if isinstance(last, cst.If) and last.orelse is not None:
        other = last.orelse
        other_body = [other] if isinstance(other, cst.If) else list(other.body.body)
        return _always_raises(list(last.body.body)) and _always_raises(other_body)
    return False


def _unconditional_raise(statements: Sequence[cst.CSTNode]) -> Optional[cst.Raise]:
    """The `raise` a block reaches whatever its conditions (in it or in a `with` in it), or None
    when a branch, a loop or a try decides the way out first."""
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Raise):
                    return small
                if isinstance(small, (cst.Return, cst.Break, cst.Continue)):
                    return None
        else:
            inner = _unconditional_raise(statement.body.body) if isinstance(statement, cst.With) else None
            if inner is not None:
                return inner
            if _raises_always(statement) or _may_leave(statement, False):
                return None
    return None


def _ends_in_raise(statements: Sequence[cst.CSTNode], loops_back: bool = False) -> bool:
    """Whether running these statements always ends in `raise`: a statement that does (`raise`, an
    if/else, try, with, match or loop every way of which does) comes before any that may leave the
    block otherwise (`return`, or `break`/`continue` of a loop around it; in the body of a loop
    that surely runs, `continue` only runs it again). Loops may not run."""
    for statement in statements:
        if _raises_always(statement, loops_back):
            return True
        if _may_leave(statement, loops_back):
            return False
    return False


def _may_leave(statement: cst.CSTNode, loops_back: bool) -> bool:
    if isinstance(statement, _LOOPS):  # its own break/continue stay in it
        return any(isinstance(n, cst.Return) for n in _walk(statement))
    return any(not (loops_back and isinstance(n, cst.Continue)) for n in _leaving_statements(statement))


def _raises_always(statement: cst.CSTNode, loops_back: bool = False) -> bool:
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            if isinstance(small, cst.Raise):
                return True
            if isinstance(small, (cst.Return, cst.Break, cst.Continue)):
                return False
        return False
    if isinstance(statement, cst.If):
        other = statement.orelse
        if other is None:
            return False
        other_body = [other] if isinstance(other, cst.If) else list(other.body.body)
        return _ends_in_raise(statement.body.body, loops_back) and _ends_in_raise(other_body, loops_back)
    if isinstance(statement, cst.With):
        return _ends_in_raise(statement.body.body, loops_back)
    if isinstance(statement, (cst.Try, cst.TryStar)):
        if statement.finalbody is not None and _ends_in_raise(statement.finalbody.body.body, loops_back):
            return True
        return _ends_in_raise(statement.body.body, loops_back) and all(
            _ends_in_raise(h.body.body, loops_back) for h in statement.handlers)
    if isinstance(statement, _LOOPS):
        # `else:` runs unless the loop breaks; the body runs at least once over a literal that is
        # not empty, or under `while True:`
        inner = [n for n in _walk(statement.body) if isinstance(n, _LOOPS)]
        breaks = any(isinstance(n, cst.Break) for n in _walk(statement.body, inner))
        if statement.orelse is not None and not breaks and _ends_in_raise(statement.orelse.body.body, loops_back):
            return True
        runs = _non_empty(statement.iter) if isinstance(statement, cst.For) else _is_true(statement.test)
        return runs and _ends_in_raise(statement.body.body, loops_back=isinstance(statement, cst.While))
    if isinstance(statement, cst.Match):
        last = statement.cases[-1] if statement.cases else None
        irrefutable = last is not None and isinstance(last.pattern, cst.MatchAs) and last.pattern.pattern is None and last.guard is None
        return irrefutable and all(_ends_in_raise(case.body.body, loops_back) for case in statement.cases)
    return False


def _non_empty(node: cst.BaseExpression) -> bool:
    """A list, tuple, set or dict display with an element (or unpacking one that has), `range(3)`."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "range" and len(node.args) == 1:
        count = node.args[0].value
        return isinstance(count, cst.Integer) and count.evaluated_value > 0
    if isinstance(node, cst.Dict):
        return bool(node.elements)
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return any(not isinstance(e, cst.StarredElement) or _non_empty(e.value) for e in node.elements)
    return False


def _is_true(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Name) and node.value == "True") or (isinstance(node, cst.Integer) and node.value != "0")


def _final_call(handler: cst.ExceptHandler) -> Optional[str]:
    """The last part of the name a handler's last statement calls (`self._convert(exc)`,
    `await self._fail(exc)`), or None."""
    last = handler.body.body[-1] if handler.body.body else None
    if not isinstance(last, cst.SimpleStatementLine) or not isinstance(last.body[-1], cst.Expr):
        return None
    value = last.body[-1].value
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Call):
        name = dotted_name(value.func)
        return name.rsplit(".", 1)[-1] if name else None
    return None


def _walk_class(node: cst.ClassDef) -> Iterator[cst.CSTNode]:
    """The class body and its methods (not nested classes): where `self.x = ...` is written."""
    return descendants(node.body, (cst.ClassDef,))


RULES = [CoroutineCorrectness]


def _running_loop(call: cst.Call) -> Optional[Rewrite]:
    """ARV504's fix: in a coroutine both calls give the running loop (safe)."""
    if call.args:
        return None
    if isinstance(call.func, cst.Attribute):
        return Rewrite.safe((call.func.attr, "get_running_loop"))
    return Rewrite.safe((call, lambda local: f"{local['asyncio']}.get_running_loop()"), imports=("asyncio",))
