"""ARV101's, ARV104's and ARV105's fixes, read from the `fix` of an entry of rules/compat/versions.toml: a
template of code in which `{asyncio}` (any module name in braces listed in `imports`) is the name
the file binds that module to, `{args}` the arguments of the flagged call and `{awaited}` the
awaited expression in the body of the flagged `async with`. All are unsafe: each spelling differs
from the other in some corner (a done task listed, a context not copied, a task wrapped)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import libcst as cst

from asyncreview.fixes import Rewrite

_ARGS = "__asyncreview_args__"
_AWAITED = "__asyncreview_awaited__"


class _Fill(cst.CSTTransformer):
    """Put the flagged code in the template's placeholders."""

    def __init__(self, args: Sequence[cst.Arg], awaited: Optional[cst.BaseExpression]) -> None:
        super().__init__()
        self.args = list(args)
        self.awaited = awaited

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not any(isinstance(arg.value, cst.Name) and arg.value.value == _ARGS for arg in updated.args):
            return updated
        filled: List[cst.Arg] = []
        for index, arg in enumerate(updated.args):
            if not (isinstance(arg.value, cst.Name) and arg.value.value == _ARGS):
                filled.append(arg)
                continue
            spliced = list(self.args)
            if spliced and _breaks_line_after(spliced[-1]):
                # the line break before the flagged call's `)`: the template's call closes on its line
                spliced[-1] = spliced[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=cst.SimpleWhitespace(""))
            if spliced and index < len(updated.args) - 1:  # more of the template's arguments follow
                spliced[-1] = spliced[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            filled.extend(spliced)
        if filled and not any(arg is filled[-1] for arg in self.args):
            filled[-1] = filled[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=filled)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if updated.value == _AWAITED and self.awaited is not None:
            return self.awaited
        return updated


def _breaks_line_after(arg: cst.Arg) -> bool:
    """A line break (and no comment, which would go with it) after an argument."""
    after = "".join(cst.Module([]).code_for_node(node) for node in
                    [arg.whitespace_after_arg, *([arg.comma] if isinstance(arg.comma, cst.Comma) else [])])
    return "\n" in after and "#" not in after


def _filled(template: str, local: Mapping[str, str], args: Sequence[cst.Arg],
            awaited: Optional[cst.BaseExpression] = None) -> cst.BaseExpression:
    code = template.format(**local, args=_ARGS, awaited=_AWAITED)
    return cst.parse_expression(code).visit(_Fill(args, awaited))  # type: ignore[return-value]


def call_rewrite(fix: Dict[str, Any], call: cst.Call) -> Optional[Rewrite]:
    """`fix.call`: the flagged call replaced by the template (`keywords = false`: only for a call
    without keyword arguments, which the replacement does not take)."""
    if not fix.get("keywords", True) and any(arg.keyword is not None or arg.star == "**" for arg in call.args):
        return None
    template = fix["call"]
    return Rewrite.unsafe((call, lambda local: _filled(template, local, call.args)), imports=tuple(fix.get("imports", ())))


def async_with_rewrite(fix: Dict[str, Any], statement: cst.With, call: cst.Call) -> Optional[Rewrite]:
    """`fix.async-with`: `async with flagged(args): <one awaited call>` -> the awaited call wrapped
    in the template, as the one statement in the block's place. Anything else in the body (two
    statements, an `await` inside a larger expression, `as` bound) has no mechanical rewrite, nor
    does a comment on the `async with` line or above the body (it would go with the statement)."""
    if len(statement.items) != 1 or statement.items[0].asname is not None or statement.items[0].item is not call:
        return None
    body = statement.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1 or body.header.comment is not None:  # kept nowhere
        return None
    line = body.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or line.leading_lines or body.footer:
        return None
    small = line.body[0]
    awaited = _awaited_call(small)
    if awaited is None or any(arg.star for arg in call.args) or len(call.args) != 1:
        return None
    argument = call.args[0].with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT)
    template = fix["async-with"]

    def replaced(local: Mapping[str, str]) -> cst.CSTNode:
        wrapped = cst.Await(_filled(template, local, [argument], awaited.expression))
        return _swap(small, awaited, wrapped)

    return Rewrite.unsafe((statement, replaced), imports=tuple(fix.get("imports", ())))


class _Awaits(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def visit_Await(self, node: cst.Await) -> None:
        self.count += 1


def _awaited_call(small: cst.BaseSmallStatement) -> Optional[cst.Await]:
    """The `await f(...)` a statement is: `await f()`, `x = await f()`, `return await f()`, with
    no other `await` in it (`await f(await g())`: g would run outside the timeout)."""
    value = getattr(small, "value", None) if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)) else None
    if not (isinstance(value, cst.Await) and isinstance(value.expression, cst.Call) and not value.lpar):
        return None
    awaits = _Awaits()
    small.visit(awaits)
    return value if awaits.count == 1 else None


def _swap(small: cst.BaseSmallStatement, old: cst.Await, new: cst.Await) -> cst.BaseSmallStatement:
    return small.with_changes(value=new.with_changes(whitespace_after_await=old.whitespace_after_await),
                              semicolon=cst.MaybeSentinel.DEFAULT)


def reference_rewrite(fix: Dict[str, Any], node: cst.CSTNode) -> Optional[Rewrite]:
    """`fix.reference`: a dotted reference (`asyncio.Task.all_tasks`) replaced by another."""
    if not isinstance(node, cst.Attribute):  # a `from` import line has no mechanical rewrite
        return None
    template = fix["reference"]
    return Rewrite.unsafe((node, lambda local: _filled(template, local, ())), imports=tuple(fix.get("imports", ())))


def drop_keyword(call: cst.Call, arg: cst.Arg) -> Rewrite:
    """`fix = "drop"`: the keyword argument removed, the call's commas kept as they were."""
    kept = [other for other in call.args if other is not arg]
    if kept and call.args[-1] is arg:
        kept[-1] = kept[-1].with_changes(comma=arg.comma)
    return Rewrite.unsafe((call, call.with_changes(args=kept)))


class _Count(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.count = 0

    def visit_Name(self, node: cst.Name) -> None:
        self.count += node.value == self.name


def run_rewrite(fix: Dict[str, Any], call: cst.Call, started: Optional[cst.Call], statements: Sequence[cst.CSTNode],
                module: cst.Module, scope: cst.CSTNode) -> Optional[Rewrite]:
    """ARV105's fix (`fix.started-by`, `fix.call`): `get_event_loop().run_until_complete(main())`
    as a statement, or `loop = get_event_loop()` followed at once by `loop.run_until_complete(main())`
    with `loop` used nowhere else in its scope, where `main` is an `async def` of the module (a
    future or `gather(...)` is no coroutine for asyncio.run)."""
    first = statements[-1] if statements else None
    if not isinstance(first, cst.SimpleStatementLine) or len(first.body) != 1:
        return None
    small = first.body[0]
    imports = tuple(fix.get("imports", ()))
    if started is not None:
        if isinstance(small, cst.Expr) and small.value is started and _runs_a_coroutine(fix, started, module):
            return Rewrite.unsafe((started, lambda local: _filled(fix["call"], local, started.args)), imports=imports)
        return None
    if not (isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)) or first.trailing_whitespace.comment is not None:
        return None
    loop = small.targets[0].target.value
    following = _next_statement(first, statements[-2] if len(statements) > 1 else module)
    if not isinstance(following, cst.SimpleStatementLine) or len(following.body) != 1 or following.leading_lines:
        return None
    run = following.body[0].value if isinstance(following.body[0], cst.Expr) else None
    if not (isinstance(run, cst.Call) and isinstance(run.func, cst.Attribute) and isinstance(run.func.value, cst.Name)
            and run.func.value.value == loop and _runs_a_coroutine(fix, run, module)):
        return None
    counter = _Count(loop)
    scope.visit(counter)
    if counter.count != 2:  # the loop is used again (closed, run twice, handed on)
        return None
    return Rewrite.unsafe(((first, following), lambda local: _filled(fix["call"], local, run.args)), imports=imports)


def _runs_a_coroutine(fix: Dict[str, Any], run: cst.Call, module: cst.Module) -> bool:
    """`<loop>.run_until_complete(main())` with `main` an `async def` at the top of the module."""
    if not isinstance(run.func, cst.Attribute) or run.func.attr.value != fix["started-by"] or len(run.args) != 1:
        return False
    arg = run.args[0]
    coroutine = arg.value
    if arg.keyword is not None or arg.star or not isinstance(coroutine, cst.Call) or not isinstance(coroutine.func, cst.Name):
        return False
    name = coroutine.func.value
    return any(isinstance(statement, cst.FunctionDef) and statement.asynchronous is not None and statement.name.value == name
               for statement in module.body)


def _next_statement(statement: cst.CSTNode, parent: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The statement after `statement` in the block of `parent` that holds it (None: the last, or
    not in the parent's main block)."""
    block = parent.body if isinstance(parent, cst.Module) else getattr(getattr(parent, "body", None), "body", ())
    for index, other in enumerate(block):
        if other is statement:
            return block[index + 1] if index + 1 < len(block) else None
    return None
