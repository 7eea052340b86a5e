"""ARV101's and ARV104's fixes, read from the `fix` of an entry of rules/compat/versions.toml: a
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


def _awaited_call(small: cst.BaseSmallStatement) -> Optional[cst.Await]:
    """The `await f(...)` a statement is: `await f()`, `x = await f()`, `return await f()`."""
    value = getattr(small, "value", None) if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)) else None
    if isinstance(value, cst.Await) and isinstance(value.expression, cst.Call) and not value.lpar:
        return value
    return None


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
