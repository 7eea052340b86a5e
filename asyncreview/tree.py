"""Building and reading a LibCST tree at less than LibCST's own cost.

LibCST's own traversal (`CSTNode.visit`, and `node.children`, which is built on it) rebuilds and
re-validates every node it passes, even for a visitor that changes nothing. These helpers read the
same children, in the same order, straight from the nodes' fields; `parse_module` builds the same
tree as LibCST's without re-validating it and, in a process that parses a lot, through quicker
node constructors."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import keyword
import typing
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

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


def subclasses(*bases: type) -> FrozenSet[type]:
    """The bases and every class below them."""
    found = set()
    stack = list(bases)
    while stack:
        kind = stack.pop()
        found.add(kind)
        stack.extend(kind.__subclasses__())
    return frozenset(found)


NODE_TYPES: FrozenSet[type] = subclasses(cst.CSTNode)


# Whitespace, comments, operators and punctuation: two thirds of a tree's nodes. Their children are
# of these types too (tests/test_walk.py checks), so a walk whose visitors hook none of them can
# pass them by without visiting them.
TRIVIA: FrozenSet[type] = subclasses(
    cst.BaseParenthesizableWhitespace, cst.EmptyLine, cst.TrailingWhitespace, cst.Comment, cst.Newline,
    cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp,
    cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.Asynchronous, cst.ImportStar,
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
    cst.LeftCurlyBrace, cst.RightCurlyBrace,
)
NOT_TRIVIA: FrozenSet[type] = NODE_TYPES - TRIVIA


_TRIVIA_FIELDS: Dict[type, FrozenSet[str]] = {}


def trivia_fields(kind: type) -> FrozenSet[str]:
    """The fields whose annotation admits only trivia, or no node at all (`lpar`, `comma`,
    `whitespace_after_func`): two thirds of the fields a walk reads, none of which a walk that
    passes trivia by needs to read. An annotation left as a string counts as a node."""
    found = _TRIVIA_FIELDS.get(kind)
    if found is None:
        hints = {field.name: field.type for field in dataclasses.fields(kind)}
        found = _TRIVIA_FIELDS[kind] = frozenset(
            name for name in fields_of(kind) if name in hints and _only_trivia(hints[name])
        )
    return found


def _only_trivia(annotation: Any) -> bool:
    """Whether every class `annotation` names (through Union, Optional, Sequence, Literal...) is
    trivia, a string, None or LibCST's MaybeSentinel."""
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is not None:
        return all(_only_trivia(argument) for argument in arguments if not isinstance(argument, (str, int, bool)))
    if not isinstance(annotation, type):
        return False
    return annotation in _NOT_NODES or annotation in TRIVIA  # TRIVIA holds every subclass of its bases


_NOT_NODES = frozenset({str, type(None), cst.MaybeSentinel})


def inner_children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """`node.children` without trivia (whitespace, comments, operators, punctuation hold nothing
    else), read without rebuilding `node` and without reading the fields that hold only trivia."""
    found: List[cst.CSTNode] = []
    skipped = trivia_fields(type(node))
    for name in fields_of(type(node)):
        if name in skipped:
            continue
        value = getattr(node, name)
        kind = type(value)
        if kind in NOT_TRIVIA:
            found.append(value)
        elif kind is tuple or kind is list:
            found.extend(child for child in value if type(child) in NOT_TRIVIA)
    return found


def descendants(root: cst.CSTNode, not_into: Tuple[type, ...] = (), skip: Sequence[cst.CSTNode] = ()) -> Iterator[cst.CSTNode]:
    """`root` and the nodes below it (trivia left out), without entering nodes of the types
    `not_into` (a rule's "same function": nested defs, lambdas, classes) or the nodes `skip`."""
    stack: List[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in inner_children(node)
                     if not isinstance(child, not_into) and not any(child is s for s in skip))


def _no_validation(self: CSTNode) -> None:
    pass


_FACTORY = getattr(dataclasses, "_HAS_DEFAULT_FACTORY", object())
# The constructors `dataclass` wrote, for each class that got a quick one (tests compare the two).
LIBCST_CONSTRUCTORS: Dict[type, Callable[..., None]] = {}
_quick_constructors: List[bool] = []
# Compiling the quick constructors costs ~20 ms, which ~250 KB of parsing pays back: a process
# gets them once it has parsed this many characters (one file, as pre-commit runs it, never pays).
QUICK_CONSTRUCTORS_AFTER = 256 * 1024
_parsed: List[int] = [0]  # characters this process has parsed (or is expected to parse)
_QUICK_SCOPE: Dict[str, Any] = {}  # the quick constructors' globals


def expect_to_parse(characters: int) -> None:
    """This process is about to parse about that much (a pool worker's share of a run): when it
    pays back the compilation, the quick constructors come with the first file, not 256 KB in."""
    if characters >= QUICK_CONSTRUCTORS_AFTER:
        _parsed[0] = max(_parsed[0], QUICK_CONSTRUCTORS_AFTER)


def _install_quick_constructors() -> None:
    """Give every node class an `__init__` that sets its slots through their descriptors: the one
    `dataclass(frozen=True)` writes calls `object.__setattr__` for every field, and the parser
    builds ~12 nodes a line, which made construction a fifth of the parse. Same parameters,
    defaults, factories and `__post_init__` call; a class whose `__init__` or fields are not
    what this expects keeps its own."""
    if _quick_constructors:
        return
    _quick_constructors.append(True)
    scope = _QUICK_SCOPE
    scope.update(_FACTORY=_FACTORY, _validating=True)
    sources = {kind: _quick_source(kind, f"_{number}", scope) for number, kind in enumerate(NODE_TYPES)}
    exec("\n".join(source for source in sources.values() if source), scope)  # noqa: S102
    for number, (kind, source) in enumerate(sources.items()):
        if source is None:
            continue
        generated, quick = kind.__dict__["__init__"], scope[f"_init_{number}"]
        if not _same_parameters(quick, generated):
            continue
        quick.__qualname__ = generated.__qualname__
        quick.__annotations__ = dict(generated.__annotations__)
        LIBCST_CONSTRUCTORS[kind] = generated
        kind.__init__ = quick  # type: ignore[misc]


def _quick_source(kind: type, suffix: str, scope: Dict[str, Any]) -> Optional[str]:
    """The source of `kind`'s quick `__init__`, named `_init{suffix}`; what it needs goes into
    `scope` under names ending in `suffix`. None when the class is not what this expects."""
    generated = kind.__dict__.get("__init__")
    if generated is None or generated.__code__.co_filename != "<string>":  # not dataclass-made
        return None
    params: List[str] = []
    body: List[str] = []
    for index, field in enumerate(dataclasses.fields(kind)):
        slot = next((c.__dict__[field.name] for c in kind.__mro__ if field.name in c.__dict__), None)
        # NODE_TYPES also holds the slot-less classes LibCST's add_slots replaced, until collected
        if not field.init or getattr(field, "kw_only", False) is True or type(slot).__name__ != "member_descriptor":
            return None
        if not field.name.isidentifier() or keyword.iskeyword(field.name):  # only names go into the source
            return None
        setter = f"_set{suffix}_{index}"
        scope[setter] = slot.__set__
        value = field.name
        if field.default is not dataclasses.MISSING:
            scope[f"_default{suffix}_{index}"] = field.default
            params.append(f"{field.name}=_default{suffix}_{index}")
        elif field.default_factory is not dataclasses.MISSING:
            scope[f"_factory{suffix}_{index}"] = field.default_factory
            params.append(f"{field.name}=_FACTORY")
            value = f"_factory{suffix}_{index}() if {field.name} is _FACTORY else {field.name}"
        else:
            params.append(field.name)
        body.append(f"    {setter}(self, {value})")
    if "__post_init__" in generated.__code__.co_names:  # skipped while parse_module runs: no call at all
        body.append("    if _validating:\n        self.__post_init__()")
    return f"def _init{suffix}(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"]) + "\n"


def _same_parameters(quick: Callable[..., None], generated: Callable[..., None]) -> bool:
    """Same positional parameters, in order, with the very same default objects."""
    mine, theirs = quick.__code__, generated.__code__
    defaults, their_defaults = quick.__defaults__ or (), generated.__defaults__ or ()
    return (
        mine.co_argcount == theirs.co_argcount
        and theirs.co_kwonlyargcount == 0
        and mine.co_varnames[: mine.co_argcount] == theirs.co_varnames[: theirs.co_argcount]
        and len(defaults) == len(their_defaults)
        and all(a is b for a, b in zip(defaults, their_defaults))
    )


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module` without the `_validate()` every node runs from `__post_init__`: it
    only checks what the parser has already guaranteed, at an eighth of the parse's cost
    (benchmarks/README.md). The trees are equal (tests/test_walk.py). Nodes another thread builds
    meanwhile go unvalidated too; asyncreview parses on one thread per process."""
    if _parsed[0] >= QUICK_CONSTRUCTORS_AFTER:
        _install_quick_constructors()
    _parsed[0] += len(text)
    validate = CSTNode.__dict__["__post_init__"]
    CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign]
    _QUICK_SCOPE["_validating"] = False
    try:
        return cst.parse_module(text)
    finally:
        CSTNode.__post_init__ = validate  # type: ignore[method-assign]
        _QUICK_SCOPE["_validating"] = True


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
