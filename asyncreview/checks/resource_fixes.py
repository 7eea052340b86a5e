"""ARV305's fix, as the asyncio docs recommend for fire-and-forget tasks: a module-level set holds
each task until it is done (`task = asyncio.create_task(...)`, `_background_tasks.add(task)`,
`task.add_done_callback(_background_tasks.discard)`). Unsafe: the task is now kept alive, which
is the point, but its exception is still never retrieved."""

from __future__ import annotations

from typing import Mapping, Optional, Set, Tuple

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
