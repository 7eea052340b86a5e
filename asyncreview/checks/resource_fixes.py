"""ARV305's fix, as the asyncio docs recommend for fire-and-forget tasks: a module-level set holds
each task until it is done (`task = asyncio.create_task(...)`, `_background_tasks.add(task)`,
`task.add_done_callback(_background_tasks.discard)`). Unsafe: the task is now kept alive, which
is the point, but its exception is still never retrieved."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Set, Tuple

import libcst as cst

from asyncreview.fixes import Rewrite, module_names, prelude_spot
from asyncreview.names import NameResolver

# First free spelling wins; a module-level `name = set()` left by an earlier fix is reused.
_SET_NAMES = ("_background_tasks", "_running_background_tasks")
_TASK_NAMES = ("task", "background_task", "new_task")


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: Set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.seen.add(node.value)


def keep_task(expr: cst.Expr, statement: cst.CSTNode, function: cst.FunctionDef, module: cst.Module,
              text: str, names: NameResolver, target: Tuple[int, ...]) -> Optional[Rewrite]:
    """The fix for a dropped task, or None: the call shares its line with other statements or a
    compound statement's header, or no name is free."""
    if not isinstance(statement, cst.SimpleStatementLine) or list(statement.body) != [expr]:
        return None
    found = _task_set(module, text)
    collector = _Names()
    function.visit(collector)
    task = next((name for name in _TASK_NAMES if name not in collector.seen and name not in names.module_bound), None)
    if found is None or task is None:
        return None
    tasks, defined = found
    asyncio = _asyncio_above(module)
    annotation = f": set[{asyncio}.Task]" if asyncio is not None and tuple(target[:2]) >= (3, 9) else ""

    def kept(local: Mapping[str, str]) -> list:
        assigned = cst.Assign([cst.AssignTarget(cst.Name(task))], expr.value)
        return [assigned, f"{tasks}.add({task})", f"{task}.add_done_callback({tasks}.discard)"]

    return Rewrite.unsafe((expr, kept), prelude=None if defined else f"{tasks}{annotation} = set()")


def _task_set(module: cst.Module, text: str) -> Optional[Tuple[str, bool]]:
    """A name for the set of running tasks, and whether the module defines it already."""
    for name in _SET_NAMES:
        if name not in text:
            return name, False
        if any(_defines_set(statement, name) for statement in module.body):
            return name, True
    return None


def _defines_set(statement: cst.CSTNode, name: str) -> bool:
    """`name = set()` or `name: ... = set()` at the top of the module."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return False
    return (isinstance(target, cst.Name) and target.value == name and isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name) and value.func.value == "set" and not value.args)


def _asyncio_above(module: cst.Module) -> Optional[str]:
    """The name `import asyncio` binds in the imports above the set's spot (one below it, or in a
    function, is not bound yet when the annotation is evaluated): the annotation names it."""
    spot = prelude_spot(module)
    above = cst.Module(body=module.body[: next((i for i, s in enumerate(module.body) if s is spot), len(module.body))])
    found = module_names(above, ["asyncio"], lambda name: True)
    return found["asyncio"][0] if found else None


class _Mentions(cst.CSTVisitor):
    """Where the names of `watched` occur: all of them, and those not inside an `await`."""

    def __init__(self, watched: Set[str]) -> None:
        super().__init__()
        self.watched = watched
        self.count = 0
        self.outside_await = 0
        self.awaits = 0

    def visit_Await(self, node: cst.Await) -> None:
        self.awaits += 1

    def leave_Await(self, node: cst.Await) -> None:
        self.awaits -= 1

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.watched:
            self.count += 1
            self.outside_await += not self.awaits


def _mentions(node: cst.CSTNode, watched: Set[str]) -> _Mentions:
    found = _Mentions(watched)
    node.visit(found)
    return found


class _Outflow(cst.CSTVisitor):
    """The values a block hands out of the `with`: returned or yielded."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list = []

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.values.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self.values.append(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def managed(name: str, small: cst.CSTNode, call: cst.Call, entry: Mapping[str, object], chain: Sequence[cst.CSTNode],
            function: cst.FunctionDef) -> Optional[Rewrite]:
    """ARV301's fix: `name = Ctor(...)` and the rest of its block -> `[async] with Ctor(...) as
    name:` around that rest up to the last statement that mentions `name` or a value made from it. None where that would close it
    too early or not be the same code: the assignment shares its line or is not the name alone,
    `name` is used before it or outside the block's rest, or the block hands out (returns, yields)
    `name` or a value made from it other than through `await` (a response read after its session
    closed); the entry closes with something else than its own `with` (`contextlib.closing`)."""
    how = entry.get("with") or ("async with" if entry.get("async") else "with")
    if how not in ("with", "async with") or len(chain) < 3:
        return None
    statement, block = chain[-2], chain[-3]
    if not (isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name):
        return None
    if not isinstance(statement, cst.SimpleStatementLine) or list(statement.body) != [small] or not isinstance(block, cst.IndentedBlock):
        return None
    index = next((i for i, other in enumerate(block.body) if other is statement), None)
    rest = list(block.body[index + 1:]) if index is not None else []
    if not rest:
        return None
    watched = {name}
    if sum(_mentions(other, watched).count for other in rest) + 1 != _mentions(function, watched).count:
        return None  # used before the assignment or outside this block
    made_from = _made_from(rest, name)
    # the block's rest up to the last statement that mentions the resource or a value made from it
    last_use = max((i for i, other in enumerate(rest) if _mentions(other, made_from).count), default=None)
    if last_use is None:
        return None  # opened and never used: nothing for a `with` to hold
    rest = rest[: last_use + 1]
    handed_out = _Outflow()
    for other in rest:
        other.visit(handed_out)
    if any(_mentions(value, made_from).outside_await for value in handed_out.values):
        return None
    header = statement.trailing_whitespace  # the assignment's comment goes with the `with` line
    last = rest[-1]
    uncommented = _without_last_comment(last)
    if uncommented is None:
        return None
    rest[-1] = uncommented
    replacement = cst.With(
        items=[cst.WithItem(call, asname=cst.AsName(cst.Name(name)))],
        body=cst.IndentedBlock(body=rest, header=header, indent=block.indent),
        asynchronous=cst.Asynchronous() if how == "async with" else None,
    )
    return Rewrite.unsafe(((statement, last), replacement))


def _made_from(statements: Sequence[cst.CSTNode], name: str) -> Set[str]:
    """`name` and the names assigned from it, and from those, in `statements`."""
    made = {name}
    assignments = [node for statement in statements for node in _assignments(statement)]
    grew = True
    while grew:
        grew = False
        for targets, value in assignments:
            if value is not None and _mentions(value, made).count and not targets <= made:
                made |= targets
                grew = True
    return made


def _assignments(root: cst.CSTNode) -> list:
    found: list = []

    class Collect(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            found.append(({n.value for t in node.targets for n in _names(t.target)}, node.value))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            found.append(({n.value for n in _names(node.target)}, node.value))

        def visit_WithItem(self, node: cst.WithItem) -> None:
            if node.asname is not None:
                found.append(({n.value for n in _names(node.asname.name)}, node.item))

        def visit_For(self, node: cst.For) -> None:
            found.append(({n.value for n in _names(node.target)}, node.iter))

    root.visit(Collect())
    return found


def _names(target: cst.CSTNode) -> list:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _names(element.value)]
    return []


def _without_last_comment(node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The statement without the comment of its last line, which the replaced range ends before
    (it stays where it is). None where the last line is not a plain statement in a block (a
    one-line body, a block's trailing comment lines)."""
    if isinstance(node, cst.SimpleStatementLine):
        return node.with_changes(trailing_whitespace=cst.TrailingWhitespace())
    if isinstance(node, cst.IndentedBlock):
        inner = _without_last_comment(node.body[-1]) if node.body and not node.footer else None
        return None if inner is None else node.with_changes(body=[*node.body[:-1], inner])
    for part in ("finalbody", "orelse", "handlers", "body"):  # the parts of a statement, last first
        value = getattr(node, part, None)
        if not value or isinstance(value, cst.SimpleStatementSuite):
            continue
        if isinstance(value, (tuple, list)):
            inner = _without_last_comment(value[-1])
            return None if inner is None else node.with_changes(**{part: [*value[:-1], inner]})
        inner = _without_last_comment(value)
        return None if inner is None else node.with_changes(**{part: inner})
    return None
