"""Node positions, as LibCST's PositionProvider defines them, at a fraction of its cost.

PositionProvider runs LibCST's code generator with a state that builds two frozen dataclasses
and a generator-based context manager for every node, and splits every token with a regex: on
real files that costs twice as much as parsing. This state records plain tuples, skips the
split for tokens without a line break and builds a CodeRange only for the nodes a caller looks
up. tests/test_locate.py checks it against PositionProvider node for node."""

from __future__ import annotations

import ast
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.metadata import CodePosition, CodeRange

try:  # LibCST's code generator state: internal, so a change there falls back to the public way
    from libcst._nodes.internal import CodegenState as _CodegenState
except ImportError:  # pragma: no cover - depends on the installed LibCST
    _CodegenState = None  # type: ignore[assignment,misc]

_Spot = Tuple[int, int]
_Span = Tuple[_Spot, _Spot]


class _Recorder:
    """The context manager PositionProvidingCodegenState.record_syntactic_position returns."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: "_State", node: cst.CSTNode, start_node: Any, end_node: Any) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc: object) -> None:
        state = self.state
        spans = state.spans
        start = spans[self.start_node][0] if self.start_node is not None else self.start
        end = spans[self.end_node][1] if self.end_node is not None else (state.line, state.column)
        spans[self.node] = (start, end)


class _State(_CodegenState if _CodegenState is not None else object):  # type: ignore[misc]
    """Tracks line and column like WhitespaceInclusivePositionProvidingCodegenState; drops the
    generated text, which nobody reads."""

    def __init__(self, module: cst.Module) -> None:
        self.default_indent = module.default_indent
        self.default_newline = module.default_newline
        self.provider = None
        self.indent_tokens: List[str] = []
        # Module checks `tokens` once, at the end, for "nothing was generated"; nothing else reads it.
        self.tokens: List[str] = [""] if (module.header or module.body or module.footer) else []
        self.line = 1
        self.column = 0
        self.stack: List[_Spot] = []
        self.spans: Dict[cst.CSTNode, _Span] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        if "\n" not in value and "\r" not in value:
            self.column += len(value)
            return
        lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.line += len(lines) - 1
        self.column = len(lines[-1])

    def pop_trailing_newline(self) -> None:
        pass  # PositionProvider's positions are taken before the text is trimmed

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.stack.pop()
        if node not in self.spans:  # a syntactic position, recorded inside, wins
            self.spans[node] = (start, (self.line, self.column))

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None, end_node: Optional[cst.CSTNode] = None
    ) -> _Recorder:
        return _Recorder(self, node, start_node, end_node)


class Positions(Mapping[cst.CSTNode, CodeRange]):
    """CodeRanges built on lookup from the recorded tuples."""

    def __init__(self, spans: Dict[cst.CSTNode, _Span]) -> None:
        self._spans = spans

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        (line, column), (end_line, end_column) = self._spans[node]
        return CodeRange(CodePosition(line, column), CodePosition(end_line, end_column))

    def __contains__(self, node: object) -> bool:
        return node in self._spans

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)


_last: List[Any] = [None, None]


def positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    """PositionProvider's positions for `module`, computed once however many rules ask."""
    if _last[0] is not module:
        _last[:] = [module, compute_positions(module)]
    return _last[1]


def forget() -> None:
    """Drop the memo, so a finished module's tree can be freed."""
    _last[:] = [None, None]


def compute_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    if _CodegenState is not None:
        try:
            state = _State(module)
            module._codegen(state)
            return Positions(state.spans)
        except (AttributeError, TypeError):  # a LibCST whose code generator works differently
            pass
    return cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider)


class Locator:
    """Positions of a few nodes without generating the whole module. A node is found through the
    statements around it (`FileContext.place`), innermost first: each is generated on its own,
    anchored at the line Python's `ast` gives for its twin (the engine parses every file with
    `ast` anyway, for its depth check) and indented as its blocks indent it. Without that tree
    (newer syntax than this interpreter knows) or when the two trees do not line up, the whole
    module is generated."""

    def __init__(self, module: cst.Module, tree: Optional[ast.Module]) -> None:
        self.module = module
        self.tree = tree if _CodegenState is not None else None
        self._twins: Optional[Dict[cst.CSTNode, _Twin]] = None
        self.paired: Set[cst.CSTNode] = set()  # compound statements whose blocks are in `twins`
        self.done: Dict[cst.CSTNode, Tuple[Dict[cst.CSTNode, _Span], int]] = {}  # statement: (spans, shift)

    @property
    def twins(self) -> Optional[Dict[cst.CSTNode, _Twin]]:
        """Module-level statements paired with `ast`'s, on the first lookup (most files report
        nothing); statements inside them are paired as lookups reach them."""
        if self._twins is None and self.tree is not None:
            self._twins = _pair_block(self.module.body, self.tree.body, ())
            if self._twins is None:
                self.tree = None
        return self._twins

    def where(self, node: cst.CSTNode, place: Sequence[cst.CSTNode] = ()) -> Optional[CodeRange]:
        """The range of `node`, found inside the innermost of `place` (statements, outermost
        first) that holds it; anywhere when `place` is empty."""
        for statement, (twin, indent, anchored) in reversed(self._chain(place)):
            if not anchored:
                continue
            generated = self.done.get(statement)
            if generated is None:
                generated = self.done[statement] = self._generate(statement, twin.lineno, indent)
            spans, shift = generated
            span = spans.get(node)
            if span is not None:
                (line, column), (end_line, end_column) = span
                return CodeRange(CodePosition(line + shift, column), CodePosition(end_line + shift, end_column))
        found = positions(self.module)  # reported from outside the statements being walked (a leave_Module)
        return found[node] if node in found else None

    def _chain(self, place: Sequence[cst.CSTNode]) -> List[Tuple[cst.CSTNode, _Twin]]:
        """The statements of `place` that have a twin, outermost first, stopping at the first
        that has none (a statement a rule put there out of order, or trees that disagree)."""
        twins = self.twins
        if twins is None or not place:
            return []
        chain: List[Tuple[cst.CSTNode, _Twin]] = []
        parent: Optional[cst.CSTNode] = None
        for statement in place:
            twin = twins.get(statement)
            if twin is None and parent is not None and parent not in self.paired:
                self.paired.add(parent)
                twins.update(_pair_children(parent, twins[parent], self.module.default_indent))
                twin = twins.get(statement)
            if twin is None:
                break
            chain.append((statement, twin))
            parent = statement
        return chain

    def _generate(self, statement: cst.CSTNode, line: int, indent: Tuple[str, ...]) -> Tuple[Dict[cst.CSTNode, _Span], int]:
        """The statement's spans counted from line 1, and what to add to put them at `line`."""
        state = _State(self.module)
        state.indent_tokens.extend(indent)
        statement._codegen(state)
        first = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else statement
        return state.spans, line - state.spans[first][0][0]


# A statement's twin in `ast` (for a line of statements, the first one's), the indentation its
# blocks give it, and whether it can be generated on its own (an `elif` cannot: it would say `if`).
_Twin = Tuple[ast.AST, Tuple[str, ...], bool]
_TRY_STAR = getattr(ast, "TryStar", None)  # Python 3.11+
_MATCH = getattr(ast, "Match", None)  # Python 3.10+
_TWIN_TYPES: Dict[type, Tuple[type, ...]] = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef),
    cst.ClassDef: (ast.ClassDef,),
    cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor),
    cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,),
    cst.TryStar: (_TRY_STAR,) if _TRY_STAR is not None else (),
    cst.Match: (_MATCH,) if _MATCH is not None else (),
}


def _pair_block(statements: Sequence[cst.CSTNode], body: Sequence[ast.stmt], indent: Tuple[str, ...]) -> Optional[Dict[cst.CSTNode, _Twin]]:
    """Each statement of a block with its `ast` twin; None if the two parsers disagree on how
    many statements the block holds."""
    twins: Dict[cst.CSTNode, _Twin] = {}
    index = 0
    for statement in statements:
        if index >= len(body):
            return None
        twins[statement] = (body[index], indent, True)
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return twins if index == len(body) else None


def _pair_children(parent: cst.CSTNode, parent_twin: _Twin, default_indent: str) -> Dict[cst.CSTNode, _Twin]:
    """The twins of the statements in a compound statement's blocks (empty when the two trees
    disagree about it)."""
    twin, indent, _ = parent_twin
    if not isinstance(twin, _TWIN_TYPES.get(type(parent), ())):
        return {}
    blocks: List[Tuple[Any, Sequence[ast.stmt]]] = [(parent.body, twin.body)] if not isinstance(parent, cst.Match) else []
    found: Dict[cst.CSTNode, _Twin] = {}
    if isinstance(parent, (cst.If, cst.For, cst.While, cst.Try, cst.TryStar)) and parent.orelse is not None:
        if isinstance(parent.orelse, cst.If):  # elif: the same indentation, not generated alone
            if len(twin.orelse) == 1 and isinstance(twin.orelse[0], ast.If):
                found[parent.orelse] = (twin.orelse[0], indent, False)
        else:
            blocks.append((parent.orelse.body, twin.orelse))
    if isinstance(parent, (cst.Try, cst.TryStar)):
        if len(parent.handlers) != len(twin.handlers):
            return found
        blocks.extend((handler.body, twin_handler.body) for handler, twin_handler in zip(parent.handlers, twin.handlers))
        if parent.finalbody is not None:
            blocks.append((parent.finalbody.body, twin.finalbody))
    if isinstance(parent, cst.Match):  # its cases are indented once more than `match`
        if len(parent.cases) != len(twin.cases):
            return found
        indent = indent + (parent.indent if parent.indent is not None else default_indent,)
        blocks.extend((case.body, twin_case.body) for case, twin_case in zip(parent.cases, twin.cases))
    for block, body in blocks:
        if isinstance(block, cst.IndentedBlock):
            inner = indent + (block.indent if block.indent is not None else default_indent,)
            found.update(_pair_block(block.body, body, inner) or {})
    return found
