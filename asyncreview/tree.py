"""Reading a LibCST tree without copying it.

LibCST's own traversal (`CSTNode.visit`, and `node.children`, which is built on it) rebuilds and
re-validates every node it passes, even for a visitor that changes nothing. These helpers read the
same children, in the same order, straight from the nodes' fields."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from typing import Dict, FrozenSet, Iterator, List, Tuple

import libcst as cst
from libcst._nodes.base import CSTNode

_FIELD_ORDER: Dict[type, Tuple[str, ...]] = {}


def fields_of(kind: type) -> Tuple[str, ...]:
    """The fields LibCST's `_visit_and_replace_children` visits, in its order: the field names it
    passes to `visit_required(self, "name", ...)` and friends are its first string constants.
    (Keyword names of the rebuilt node are a tuple constant, so they do not get in the way.)"""
    fields = _FIELD_ORDER.get(kind)
    if fields is None:
        names = {field.name for field in dataclasses.fields(kind)}
        constants = kind._visit_and_replace_children.__code__.co_consts
        fields = _FIELD_ORDER[kind] = tuple(c for c in constants if isinstance(c, str) and c in names)
    return fields


# LibCST skips the field callbacks for these when they are None (`x if x is not None else None`).
SKIPPED_WHEN_NONE = frozenset({"format_spec"})


def _subclasses(*bases: type) -> FrozenSet[type]:
    found = set()
    stack = list(bases)
    while stack:
        kind = stack.pop()
        found.add(kind)
        stack.extend(kind.__subclasses__())
    return frozenset(found)


NODE_TYPES: FrozenSet[type] = _subclasses(cst.CSTNode)


# Whitespace, comments, operators and punctuation: two thirds of a tree's nodes. Their children are
# of these types too (tests/test_walk.py checks), so a walk whose visitors hook none of them can
# pass them by without visiting them.
TRIVIA: FrozenSet[type] = _subclasses(
    cst.BaseParenthesizableWhitespace, cst.EmptyLine, cst.TrailingWhitespace, cst.Comment, cst.Newline,
    cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp,
    cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.Asynchronous, cst.ImportStar,
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
    cst.LeftCurlyBrace, cst.RightCurlyBrace,
)


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """`node.children`, without rebuilding `node`."""
    found: List[cst.CSTNode] = []
    for name in fields_of(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind in NODE_TYPES:
            found.append(value)
        elif kind is tuple or kind is list:
            found.extend(child for child in value if type(child) in NODE_TYPES)
    return found


def _no_validation(self: CSTNode) -> None:
    pass


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module` without the `_validate()` every node runs from `__post_init__`: it
    only checks what the parser has already guaranteed, at an eighth of the parse's cost
    (benchmarks/README.md). The trees are equal (tests/test_walk.py). Nodes another thread builds
    meanwhile go unvalidated too; asyncreview parses on one thread per process."""
    validate = CSTNode.__dict__["__post_init__"]
    CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    finally:
        CSTNode.__post_init__ = validate  # type: ignore[method-assign]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector rescans the young tree of every file again and again while
    it is built and walked; the tree holds no cycle (reference counting frees it), so one file's
    analysis runs without the collector."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
