"""Node positions, as LibCST's PositionProvider defines them, at a fraction of its cost.

PositionProvider runs LibCST's code generator with a state that builds two frozen dataclasses
and a generator-based context manager for every node, and splits every token with a regex: on
real files that costs twice as much as parsing. This state records plain tuples, skips the
split for tokens without a line break and builds a CodeRange only for the nodes a caller looks
up. tests/test_locate.py checks it against PositionProvider node for node."""

from __future__ import annotations

import ast
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

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
    """Positions of a few nodes without generating the whole module: each module-level statement
    (and each member of a module-level class: big classes are common) is generated on its own,
    anchored at the line Python's `ast` gives for it (the engine parses every file with `ast`
    anyway, for its depth check). Without that tree (newer syntax than this interpreter knows)
    or when the two trees do not line up, the whole module is generated."""

    def __init__(self, module: cst.Module, tree: Optional[ast.Module]) -> None:
        self.module = module
        self.tree = tree if _CodegenState is not None else None
        self._anchors: Optional[Dict[cst.CSTNode, _Anchor]] = None
        self.owners: Dict[cst.CSTNode, cst.CSTNode] = {}  # class member -> its module-level class
        self.done: Dict[cst.CSTNode, Tuple[Dict[cst.CSTNode, _Span], int]] = {}  # statement: (spans, shift)

    @property
    def anchors(self) -> Optional[Dict[cst.CSTNode, _Anchor]]:
        """Computed on the first lookup: most files report nothing."""
        if self._anchors is None and self.tree is not None:
            self._anchors = _module_anchors(self.module, self.tree, self.owners)
            if self._anchors is None:
                self.tree = None
        return self._anchors

    def where(self, node: cst.CSTNode, top: Optional[cst.CSTNode]) -> Optional[CodeRange]:
        """The range of `node`, found inside statement `top` (a module-level statement or a
        member of a module-level class; None: anywhere)."""
        anchors = self.anchors
        if anchors is not None and top is not None and top not in anchors:
            top = self.owners.get(top)  # a member of a class whose body did not line up
        if anchors is None or top is None or top not in anchors:
            found = positions(self.module)
            return found[node] if node in found else None
        generated = self.done.get(top)
        if generated is None:
            generated = self.done[top] = self._generate(top, anchors[top])
        spans, shift = generated
        span = spans.get(node)
        if span is None:
            owner = self.owners.get(top)  # reported from the class around the member
            if owner is not None:
                return self.where(node, owner)
            found = positions(self.module)  # reported from outside the statement being walked (a leave_Module)
            return found[node] if node in found else None
        (line, column), (end_line, end_column) = span
        return CodeRange(CodePosition(line + shift, column), CodePosition(end_line + shift, end_column))

    def _generate(self, statement: cst.CSTNode, anchor: _Anchor) -> Tuple[Dict[cst.CSTNode, _Span], int]:
        """The statement's spans counted from line 1, and what to add to put them at its line."""
        line, indent = anchor
        state = _State(self.module)
        if indent is not None:
            state.indent_tokens.append(indent)
        statement._codegen(state)
        first = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else statement
        return state.spans, line - state.spans[first][0][0]


# A statement's line, from `ast`, and the indentation its block gives it (None at module level).
_Anchor = Tuple[int, Optional[str]]


def _module_anchors(
    module: cst.Module, tree: ast.Module, owners: Dict[cst.CSTNode, cst.CSTNode]
) -> Optional[Dict[cst.CSTNode, _Anchor]]:
    """Anchors of the module's statements and of its classes' members; None if the two parsers
    disagree on the module's statements (a class whose body they disagree on keeps only its own)."""
    anchors = _anchors(module.body, tree.body, None)
    if anchors is None:
        return None
    by_line = {node.lineno: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for statement in module.body:
        if not isinstance(statement, cst.ClassDef) or not isinstance(statement.body, cst.IndentedBlock):
            continue
        twin = by_line.get(anchors[statement][0])
        block = statement.body
        for member in block.body:
            owners[member] = statement
        if twin is not None:
            indent = module.default_indent if block.indent is None else block.indent
            anchors.update(_anchors(block.body, twin.body, indent) or {})
    return anchors


def _anchors(statements: Sequence[cst.CSTNode], body: Sequence[ast.stmt], indent: Optional[str]) -> Optional[Dict[cst.CSTNode, _Anchor]]:
    """The line of each statement's first token, from `ast`; None if the two parsers disagree on
    how many statements there are."""
    anchors: Dict[cst.CSTNode, _Anchor] = {}
    index = 0
    for statement in statements:
        if index >= len(body):
            return None
        anchors[statement] = (body[index].lineno, indent)
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return anchors if index == len(body) else None
