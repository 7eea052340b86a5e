"""ARV506-507: structured concurrency. A generator that yields out of a TaskGroup, a timeout or
(async generators) a context manager that holds something; a timeout around code that never
suspends. (Leaving a TaskGroup by `return`/`break`/`continue`, flake8-async's ASYNC121, is not a
rule: in asyncio it waits for the group's tasks and loses nothing; see benchmarks/README.md.)

Which context managers are task groups, timeouts and cancel scopes, and which decorators make a
generator a context manager or a fixture, are data in rules/correctness/knowledge.toml."""

from __future__ import annotations

import functools
from typing import List, Optional, Set

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.checks.correctness import _suspends, _walk
from asyncreview.config import Settings, _string_list
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Words


class _Tables:
    def __init__(self) -> None:
        table = load_table("correctness", "knowledge")["scopes"]
        self.timeouts: Set[str] = set(table["timeouts"])
        self.scopes: Set[str] = set(table["task-groups"]) | self.timeouts | set(table["cancel-scopes"])
        self.generator_decorators: Set[str] = set(table["generator-decorators"])
        self.closing_calls: Set[str] = set(table["closing-calls"])
        self.resources: Set[str] = set(load_table("resources", "constructors")["constructors"])


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


class _Block:
    """A `with` item the walk is in, within one function."""
    __slots__ = ("scope", "holds")

    def __init__(self, scope: Optional[str], holds: bool) -> None:
        self.scope = scope  # the qualified name of a task group / timeout / cancel scope, else None
        self.holds = holds  # a `with` whose exit releases something (ARV506 in an async generator)


class _Frame:
    __slots__ = ("is_async", "checks_yields", "blocks")

    def __init__(self, is_async: bool, checks_yields: bool) -> None:
        self.is_async = is_async
        self.checks_yields = checks_yields  # a generator that is not a context manager or fixture
        self.blocks: List[_Block] = []


class StructuredConcurrency(Rule):
    codes = ("ARV506", "ARV507")
    family = "correctness"
    options = {"extend-generator-decorators": _string_list}

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # Every finding is inside a `with`: a yield (ARV506) or a timeout (ARV507).
        return AllOf(Words("with"), (Words("yield"), Paired(mention_pairs(_tables().timeouts))))

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables()
        self.frames: List[_Frame] = [_Frame(False, False)]
        extra = context.settings.option("extend-generator-decorators") or []
        self.generator_decorators = self.tables.generator_decorators | set(extra)

    # -- scopes --------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        is_generator = any(isinstance(n, cst.Yield) for n in _walk(node.body))
        exempt = any(self._decorator_names(d.decorator) & self.generator_decorators for d in node.decorators)
        self.frames.append(_Frame(node.asynchronous is not None, is_generator and not exempt))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(_Frame(False, False))

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.append(_Frame(False, False))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.pop()

    def _decorator_names(self, node: cst.BaseExpression) -> Set[Optional[str]]:
        """The decorator's qualified name, and as written (a decorator the module defines)."""
        if isinstance(node, cst.Call):  # `@pytest.fixture(scope="module")`
            node = node.func
        return {self.names.qualify(node), dotted_name(node)}

    def _scope_of(self, item: cst.BaseExpression) -> Optional[str]:
        name = self.names.qualify(item.func) if isinstance(item, cst.Call) else None
        return name if name in self.tables.scopes else None

    def _holds(self, item: cst.BaseExpression, asynchronous: bool) -> bool:
        """Whether leaving this `with` item releases something: any async context manager but
        `aclosing(inner)` (the inner generator closes with this one), a sync one that opens a
        resource the resources tables know."""
        if not isinstance(item, cst.Call):
            return asynchronous
        name = self.names.qualify(item.func) or self.names.builtin(item.func) or dotted_name(item.func) or ""
        if asynchronous:
            return name.rsplit(".", 1)[-1] not in self.tables.closing_calls
        return name in self.tables.resources or self.names.call_result_type(item) in self.tables.resources

    # -- blocks --------------------------------------------------------------------------------
    def visit_With(self, node: cst.With) -> None:
        frame = self.frames[-1]
        for index, item in enumerate(node.items):
            scope = self._scope_of(item.item)
            frame.blocks.append(_Block(scope, self._holds(item.item, node.asynchronous is not None)))
            # `async with timeout(5), client:` awaits the client's enter and exit inside the timeout
            enters_later = node.asynchronous is not None and index < len(node.items) - 1
            if scope in self.tables.timeouts and frame.is_async and not enters_later and not _checkpointed(node.body):
                self.report(
                    item.item,
                    f"`{scope}()` around code that never suspends: a timeout can only cancel the "
                    f"block at an `await`, so it never fires here and whatever is slow inside runs "
                    f"to the end; await inside it, or remove it",
                    code="ARV507", kind=scope,  # type: ignore[arg-type]
                )

    def leave_With(self, node: cst.With) -> None:
        del self.frames[-1].blocks[-len(node.items):]

    # -- ARV506: yield out of a context --------------------------------------------------------
    def visit_Yield(self, node: cst.Yield) -> None:
        frame = self.frames[-1]
        if not frame.checks_yields:
            return
        scopes = [block.scope for block in frame.blocks if block.scope is not None]
        if scopes:
            message = (
                f"`yield` inside `{scopes[-1]}()`: the generator is suspended with the scope still "
                f"open, so its cancellation (a timeout, a failing child task) lands in whatever "
                f"code the consumer runs meanwhile, or the scope is never closed; yield after the "
                f"block, or make this an `@asynccontextmanager`"
            )
        elif frame.is_async and any(block.holds for block in frame.blocks):
            message = (
                "`yield` inside a `with` block of an async generator: if the consumer stops "
                "iterating (break, an exception, a cancellation), the block's cleanup waits until "
                "the generator is closed or garbage-collected, in an unknown task or never; "
                "use `@asynccontextmanager`, or `contextlib.aclosing()` at the consumer"
            )
        else:
            return
        self.report(node, message, code="ARV506", kind="scope" if scopes else "with")


def _checkpointed(body: cst.CSTNode) -> bool:
    """Whether a block can be cancelled: it suspends, or yields to a caller that may."""
    return _suspends(body) or any(isinstance(n, cst.Yield) for n in _walk(body))


RULES = [StructuredConcurrency]
