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

from asyncreview.catalogue import load_table
from asyncreview.config import Settings
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Words
from asyncreview.tree import inner_children

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


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


def _walk(root: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> Iterator[cst.CSTNode]:
    """Nodes under root in the same function: nested functions, lambdas and classes are not entered."""
    stack: List[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in inner_children(node) if not isinstance(child, _NESTED)
                     and not any(child is s for s in skip))


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
    __slots__ = ("is_async", "cancelled")

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.cancelled: Set[str] = set()  # receivers of `.cancel()` in this function


class CoroutineCorrectness(Rule):
    codes = ("ARV501", "ARV502", "ARV503", "ARV504")
    family = "correctness"

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # One alternative per way to report; every one needs a coroutine.
        tables = _tables()
        cancels = Words(*{name.rsplit(".", 1)[-1] for name in tables.catch_all | tables.cancellation})
        return AllOf(Words("async"), (
            AllOf(Words("except"), (_BARE_EXCEPT, cancels)),  # ARV501: a handler
            AllOf(Words("finally"), Words("return", "break", "continue")),  # ARV501: finally
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
        self._awaited_calls: Set[int] = set()  # ids of calls that are awaited (not a loop's method)

    # -- scopes --------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = _Frame(node.asynchronous is not None)
        if frame.is_async:
            for inner in _walk(node.body):
                if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "cancel":
                    receiver = dotted_name(inner.func.value)
                    if receiver:
                        frame.cancelled.add(receiver)
        self.frames.append(frame)

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
        if not self._awaits_cancelled_task(node.body):
            for handler in node.handlers:
                catcher = self._cancel_catcher(handler.type)
                if catcher is None:
                    continue
                if not self._propagates(handler):
                    self.report(
                        handler,
                        f"{catcher} in a coroutine swallows asyncio.CancelledError: the handler neither "
                        f"re-raises nor ends the task on purpose, so `task.cancel()`, timeouts and "
                        f"TaskGroup shutdown cannot stop it; end the handler with `raise`"
                        + ("" if catcher.startswith("`asyncio") else
                           ", or put `except asyncio.CancelledError: raise` before it"),
                        code="ARV501", kind="except",
                    )
                if self._names_cancellation(handler.type):
                    break  # later handlers never see the cancellation
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

    def _exception_names(self, node: cst.BaseExpression) -> Iterator[Optional[str]]:
        if isinstance(node, cst.Tuple):
            for element in node.elements:
                yield from self._exception_names(element.value)
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
        """A handler that raises (the exception or another: the task still ends, not silently) or
        that calls `uncancel()` (it took the cancellation back on purpose)."""
        for node in _walk(handler.body):
            if isinstance(node, cst.Raise):
                return True
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in self.tables.deliberate:
                return True
        return False

    def _awaits_cancelled_task(self, body: cst.CSTNode) -> bool:
        """`task.cancel()` then `try: await task except CancelledError: pass`: the cancellation
        waited for is the one this function asked for (the documented idiom)."""
        cancelled = self.frames[-1].cancelled
        if not cancelled:
            return False
        for node in _walk(body):
            if isinstance(node, cst.Await):
                for inner in _walk(node.expression):
                    if isinstance(inner, (cst.Name, cst.Attribute)) and dotted_name(inner) in cancelled:
                        return True
        return False

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

    def visit_Call(self, node: cst.Call) -> None:
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
            )


def _walk_class(node: cst.ClassDef) -> Iterator[cst.CSTNode]:
    """The class body and its methods (not nested classes): where `self.x = ...` is written."""
    stack: List[cst.CSTNode] = [node.body]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(child for child in inner_children(current) if not isinstance(child, cst.ClassDef))


RULES = [CoroutineCorrectness]
