"""ARV201's fixes: `time.sleep(x)` -> `await asyncio.sleep(x)` (safe), any other blocking call
that is a statement of its own or the value of an assignment -> `await asyncio.to_thread(f,
*args, **kwargs)` (unsafe). The spelling follows the async library the file imports
(rules/blocking/fixes.toml)."""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.fixes import Rewrite
from asyncreview.names import NameResolver


@functools.lru_cache(maxsize=1)
def _table() -> Dict[str, Any]:
    return load_table("blocking", "fixes")


def library(names: NameResolver) -> Tuple[Optional[str], bool]:
    """The async library this file's coroutines run on, as far as its imports tell (None when
    they tell two: trio and asyncio), and whether the file imports it (else asyncio is assumed)."""
    imported = {name.split(".")[0] for name in names.aliases.values()}
    if "anyio" in imported:
        return "anyio", True
    if "trio" in imported:
        return (None, True) if "asyncio" in imported else ("trio", True)
    return "asyncio", "asyncio" in imported


def rewrite(call: cst.Call, callee: str, category: str, statement: cst.CSTNode, names: NameResolver,
            target: Tuple[int, ...]) -> Optional[Rewrite]:
    """The fix for a blocking call in a coroutine, or None where none is honest: the call is
    not a statement of its own nor an assignment's whole value (`await` would change what a
    larger expression means), or its result works lazily (rules/blocking/fixes.toml)."""
    if not _stands_alone(call, statement):
        return None
    lib, imported = library(names)
    if lib is None:
        return None
    table = _table()
    twin = table["awaitable"].get(callee, {}).get(lib)
    if twin is not None:
        return Rewrite.safe((call, lambda local: cst.Await(call.with_changes(func=_dotted(f"{local[lib]}.{twin}")))), imports=(lib,))
    # A worker thread is spelled differently on each loop: only for a file that names its own
    # (read on the corpus: trio's and anyio's own modules import neither, and got asyncio's).
    if not imported or callee in table["lazy-results"] or category in table["no-thread-categories"]:
        return None
    offload = table["to-thread"][lib]
    if lib == "asyncio" and tuple(target[:2]) < (3, 9):  # asyncio.to_thread is new in 3.9
        return None
    if not offload["keywords"] and any(arg.keyword is not None or arg.star == "**" for arg in call.args):
        return None

    def offloaded(local) -> cst.CSTNode:
        first = cst.Arg(call.func, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if call.args else cst.MaybeSentinel.DEFAULT)
        return cst.Await(call.with_changes(func=_dotted(f"{local[lib]}.{offload['call']}"), args=(first, *call.args)))

    return Rewrite.unsafe((call, offloaded), imports=(lib,))


def _stands_alone(call: cst.Call, statement: cst.CSTNode) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign)) and small.value is call:
            return True
    return False


def _dotted(text: str) -> cst.BaseExpression:
    head, *rest = text.split(".")
    node: cst.BaseExpression = cst.Name(head)
    for part in rest:
        node = cst.Attribute(node, cst.Name(part))
    return node
