"""Fixes as rules ask for them: nodes of the tree they already hold and what to put in their
place. The engine turns a `Rewrite` into a `Fix` (edits with line/column ranges) only for the
findings it locates, so a rule pays for building the replacement's code only where it reports."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import libcst as cst

try:  # LibCST's code generator state: internal, so without it replacements are generated unindented
    from libcst._nodes.internal import CodegenState as _CodegenState
except ImportError:  # pragma: no cover - depends on the installed LibCST
    _CodegenState = None  # type: ignore[assignment,misc]

from asyncreview.finding import SAFE, UNSAFE, Edit, Fix

# What goes in a node's place: a node, code, or a function of the local names of the modules the
# rewrite imports (`lambda names: f"await {names['asyncio']}.sleep(1)"`), called only when the
# finding is located. A function may return a list: statements put in a small statement's place,
# one a line, indented as the reported statement is.
Replacement = Union[cst.CSTNode, str, Callable[[Mapping[str, str]], Union[cst.CSTNode, str, List[Union[cst.CSTNode, str]]]]]


class Rewrite:
    """A fix as a rule asks for it: `(node, replacement)` pairs (a node may be a pair of
    statements of one block: both and what lies between are replaced) and the modules the replacements
    name, imported at the top of the file when the file does not import them already (the
    replacement then gets the name the file binds them to, `aio` for `import asyncio as aio`)."""

    __slots__ = ("changes", "applicability", "imports", "prelude")

    def __init__(self, changes: Sequence[Tuple[Any, Replacement]], applicability: str = SAFE,
                 imports: Sequence[str] = (), prelude: Optional[Replacement] = None) -> None:
        self.changes = tuple(changes)
        self.applicability = applicability
        self.imports = tuple(imports)
        # A module-level statement the replacements need (`_background_tasks = set()`), put above
        # the first top-level statement after the imports; two fixes adding the same one add it once.
        self.prelude = prelude

    @classmethod
    def safe(cls, *changes: Tuple[Any, Replacement], imports: Sequence[str] = (),
             prelude: Optional[Replacement] = None) -> "Rewrite":
        return cls(changes, SAFE, imports, prelude)

    @classmethod
    def unsafe(cls, *changes: Tuple[Any, Replacement], imports: Sequence[str] = (),
               prelude: Optional[Replacement] = None) -> "Rewrite":
        return cls(changes, UNSAFE, imports, prelude)


def module_names(module: cst.Module, wanted: Sequence[str], bound: Callable[[str], bool]) -> Optional[Dict[str, Tuple[str, bool]]]:
    """For each wanted module: the name the file's top-level `import` binds it to, or the module's
    own name with True (an import to add). None when it cannot be imported under its own name
    (`bound(name)`: the file binds that name to something else)."""
    found: Dict[str, Tuple[str, bool]] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    head = alias.name
                    while isinstance(head, cst.Attribute):  # `import asyncio.subprocess` binds `asyncio`
                        head = head.value
                    if alias.asname is None and isinstance(head, cst.Name) and head.value in wanted:
                        found.setdefault(head.value, (head.value, False))
                    elif isinstance(alias.name, cst.Name) and alias.name.value in wanted:
                        local = alias.asname.name if alias.asname is not None else alias.name
                        if isinstance(local, cst.Name):
                            found.setdefault(alias.name.value, (local.value, False))
    for name in wanted:
        if name not in found:
            if bound(name):
                return None
            found[name] = (name, True)
    return found


def import_spot(module: cst.Module) -> Optional[cst.CSTNode]:
    """The top-level statement a new import goes above: the first after the docstring and the
    `from __future__` imports (which must stay first)."""
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
            small = statement.body[0]
            if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                continue
            if isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__":
                continue
        return statement
    return None


def prelude_spot(module: cst.Module) -> Optional[cst.CSTNode]:
    """The top-level statement a new module-level definition goes above: the first after the
    docstring and the imports that open the file."""
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.SimpleStatementLine) and all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body):
            continue
        if index == 0 and import_spot(module) is not statement:  # the docstring
            continue
        return statement
    return None


def _code(module: cst.Module, node: cst.CSTNode, indent: str) -> str:
    """A replacement node's code as it will sit in its block: a line break inside brackets is
    indented as that block is (`module.code_for_node` would start such lines at column 0)."""
    if _CodegenState is None or not indent:
        return module.code_for_node(node)
    state = _CodegenState(default_indent=module.default_indent, default_newline=module.default_newline)
    state.indent_tokens.append(indent)
    node._codegen(state)
    return "".join(state.tokens)


def build_fix(rewrite: Rewrite, module: cst.Module, where: Callable[[cst.CSTNode], Optional[Tuple[Tuple[int, int], Tuple[int, int]]]],
              bound: Callable[[str], bool], indent: str = "") -> Optional[Fix]:
    """The edits of a rewrite (`where(node)`: its 0-based-column range, as the locator gives it;
    `indent`: the indentation of the block around the reported statement); None when a node
    cannot be located or a module cannot be imported."""
    names = module_names(module, rewrite.imports, bound) if rewrite.imports else {}
    if names is None:
        return None
    local = {name: spelled for name, (spelled, _) in names.items()}
    edits: List[Edit] = []
    for node, replacement in rewrite.changes:
        span = _span(node, where)
        if span is None:
            return None
        (line, column), (end_line, end_column) = span
        edits.append(Edit(line, column + 1, end_line, end_column + 1, _generated(module, replacement, local, indent)))
    inserted: Dict[int, str] = {}  # line -> text put above it
    missing = [name for name, (_, add) in names.items() if add]
    if missing:
        spot = import_spot(module)
        span = where(spot) if spot is not None else None
        if span is None:
            return None
        inserted[span[0][0]] = "".join(f"import {name}{module.default_newline}" for name in sorted(missing))
    if rewrite.prelude is not None:
        spot = prelude_spot(module)
        span = where(spot) if spot is not None else None
        if span is None:
            return None
        code = _generated(module, rewrite.prelude, local, "")
        inserted[span[0][0]] = inserted.get(span[0][0], "") + code + module.default_newline * 3
    edits.extend(Edit(line, 1, line, 1, text) for line, text in inserted.items())
    edits.sort(key=lambda edit: (edit.start, edit.end))
    return Fix(rewrite.applicability, edits)


def _span(node: Union[cst.CSTNode, Tuple[cst.CSTNode, cst.CSTNode]], where: Callable[[cst.CSTNode], Optional[Tuple[Tuple[int, int], Tuple[int, int]]]]):
    """A node's range, or for a pair of statements of one block, from the first's start to the
    second's end (what lies between, comments too, goes with them)."""
    if not isinstance(node, tuple):
        return where(node)
    first, last = where(node[0]), where(node[1])
    return None if first is None or last is None else (first[0], last[1])


def _generated(module: cst.Module, replacement: Replacement, local: Mapping[str, str], indent: str) -> str:
    if callable(replacement) and not isinstance(replacement, cst.CSTNode):
        replacement = replacement(local)  # type: ignore[assignment]
    if isinstance(replacement, list):
        return (module.default_newline + indent).join(_generated(module, part, local, indent) for part in replacement)
    if not isinstance(replacement, cst.CSTNode):
        return replacement  # type: ignore[return-value]
    code = _code(module, replacement, indent)
    if isinstance(replacement, (cst.BaseCompoundStatement, cst.SimpleStatementLine)):
        # in a statement's place: its own indentation and its line end are already there
        code = code[len(indent):] if code.startswith(indent) else code
        code = code[: -len(module.default_newline)] if code.endswith(module.default_newline) else code
    return code
