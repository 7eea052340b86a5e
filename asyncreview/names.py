"""Light name resolution: imports and aliases, plus the types of locals assigned from known calls.

Full scope analysis (LibCST's QualifiedNameProvider) costs several times the parse; an import table
built as the single traversal goes answers what the rules ask: what does `aio.timeout` refer to?"""

from __future__ import annotations

import functools
import keyword
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set

import libcst as cst

from asyncreview.catalogue import load_table


def dotted_name(node: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` for a chain of names and attributes; None for anything else. (Exact types: LibCST's
    nodes are ABCs, so isinstance takes the slow path, and nothing subclasses these two.)"""
    parts: List[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if type(node) is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _module_name(node: cst.BaseExpression) -> str:
    return dotted_name(node) or ""


def returns_table() -> Dict[str, str]:
    return load_table("common", "types")["returns"]


# -- type expressions --------------------------------------------------------------------------
# What a rule knows of a value's type: a qualified name ("pathlib.Path"), or a tuple that says how
# to get it, so that what another module declares can finish it after the pool:
#   ("iter", T) items of T; ("dict", K, V); ("tuple", T, ...); ("cm", T) a context manager giving T;
#   ("call", ref) what a project function returns, or an instance of a project class;
#   ("name", ref) a module-level name of the project; ("attr", T, name); ("meth", T, name) what a
#   method of T returns; ("with", T) what `with` gives; ("elem", T) an item of T when iterating;
#   ("part", T, i) the i-th name unpacked from T; ("class", path, key) an instance of a project class.
TypeExpr = Any


def type_step(kind: str, base: TypeExpr, rest: Sequence[Any]) -> TypeExpr:
    """The type one step gives on a base whose type is known (not a project class); None if unknown."""
    types = load_table("common", "types")
    if isinstance(base, str):
        if kind == "attr":
            return types["attributes"].get(f"{base}.{rest[0]}")
        if kind in ("meth", "div"):
            return types["returns"].get(f"{base}.{rest[0] if kind == 'meth' else '__truediv__'}")
        return base if kind == "with" else None  # `with open(p) as f`: the file itself
    shape = base[0]
    if kind == "with" and shape == "cm":
        return base[1]
    if kind == "elem" and shape in ("iter", "dict"):
        return base[1]
    if kind == "part" and shape == "tuple" and 0 <= rest[0] < len(base) - 1:
        return base[rest[0] + 1]
    if kind == "meth" and shape == "dict":
        views = {"keys": ("iter", base[1]), "values": ("iter", base[2]), "items": ("iter", ("tuple", base[1], base[2]))}
        return views.get(rest[0])
    return None


def reduce_type(expr: TypeExpr) -> TypeExpr:
    """Take every step that needs no other module: `("elem", ("iter", "pathlib.Path"))` is a Path."""
    if isinstance(expr, str) or expr is None or expr[0] not in _STEPS:
        return expr
    base = reduce_type(expr[1])
    if base is None or base[0] == "union":
        return None
    if isinstance(base, str) or base[0] in ("iter", "dict", "tuple", "cm"):
        return type_step(expr[0], base, expr[2:]) if not project_like(base) else (expr[0], base, *expr[2:])
    return (expr[0], base, *expr[2:])


_STEPS = frozenset(("attr", "meth", "div", "with", "elem", "part"))


def project_like(base: TypeExpr) -> bool:
    """A name that may be a class of the analyzed project (`.models.Config`, `app.Config`): what
    its attributes are is known only to the join. Every known type the tables use has a dot."""
    return isinstance(base, str) and (base.startswith(".") or base.split(".")[0] not in _known_tops())


@functools.lru_cache(maxsize=1)
def _known_tops() -> FrozenSet[str]:
    types = load_table("common", "types")
    return frozenset(name.split(".")[0] for table in (types["returns"], types["attributes"]) for name in (*table, *table.values()))


def mention_pairs(names: Iterable[str]) -> Dict[str, Set[str]]:
    """The words a file names one of `names` with, for a Paired prefilter: for each name, its last
    part (the attribute or imported name as written) with its first (the module its import names).
    The resolver also names things through what a call returns (`open(p).read` is
    `io.TextIOWrapper.read`; `requests.session()()` calls a `requests.Session`), so a name under a
    returned type is also written with the call's module, and a returned type with the call's
    last part."""
    returns = returns_table()
    made_by: Dict[str, Set[str]] = {}
    for call, result in returns.items():
        made_by.setdefault(result, set()).add(call)
    pairs: Dict[str, Set[str]] = {}
    for name in names:
        spellings, todo = {name}, [name]
        while todo:  # `requests.Session` is also made by `requests.session()`
            for call in made_by.get(todo.pop(), ()):
                if call not in spellings:
                    spellings.add(call)
                    todo.append(call)
        for spelled in spellings:
            last = spelled.rsplit(".", 1)[-1]
            if keyword.iskeyword(last):
                continue  # `asyncio.async` is a syntax error: no parsed file names it
            pairs.setdefault(last, set()).update(_modules_leading_to(spelled.split(".")[0], returns))
    return pairs


def _modules_leading_to(module: str, returns: Dict[str, str]) -> Set[str]:
    """`module` and the modules of calls that return a type under it (io: open, pathlib, os)."""
    found = {module}
    grew = True
    while grew:
        grew = False
        for call, result in returns.items():
            if result.split(".")[0] in found and call.split(".")[0] not in found:
                found.add(call.split(".")[0])
                grew = True
    return found


class Scope:
    __slots__ = ("types", "bound")

    def __init__(self) -> None:
        self.types: Dict[str, str] = {}
        self.bound: Set[str] = set()


class NameResolver:
    """Maps local names to qualified names; the engine feeds it as the traversal goes."""

    def __init__(self) -> None:
        self.aliases: Dict[str, str] = {}
        self.module_bound: Set[str] = set()
        self.scopes: List[Scope] = [Scope()]
        self._returns = returns_table()

    # -- feeding -------------------------------------------------------------------------------
    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = _module_name(alias.name)
            if alias.asname is not None:
                local = dotted_name(alias.asname.name)  # type: ignore[arg-type]
                if local:
                    self.aliases[local] = name
            else:
                head = name.split(".")[0]
                self.aliases[head] = head

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        module = "." * len(node.relative) + (_module_name(node.module) if node.module else "")
        for alias in node.names:
            imported = alias.name.value if isinstance(alias.name, cst.Name) else _module_name(alias.name)
            local = imported
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            joiner = "" if module.endswith(".") else "."
            self.aliases[local] = f"{module}{joiner}{imported}"

    def prescan(self, module: cst.Module) -> None:
        """Module-level imports and bindings, even those written below their first use."""
        for statement in _top_level_statements(module.body):
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.Import):
                        self.add_import(small)
                    elif isinstance(small, cst.ImportFrom):
                        self.add_import_from(small)
                    elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                        for target in targets:
                            if isinstance(target, cst.Name):
                                self.module_bound.add(target.value)
            elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self.module_bound.add(statement.name.value)

    def push_scope(self) -> None:
        self.scopes.append(Scope())

    def pop_scope(self) -> None:
        if len(self.scopes) > 1:
            self.scopes.pop()

    def bind(self, name: str, type_name: Optional[str]) -> None:
        scope = self.scopes[-1]
        scope.bound.add(name)
        if type_name:
            scope.types[name] = type_name
        else:
            scope.types.pop(name, None)

    # -- asking --------------------------------------------------------------------------------
    def local_type(self, name: str) -> Optional[str]:
        for scope in reversed(self.scopes):
            if name in scope.types:
                return scope.types[name]
            if name in scope.bound:
                return None
        return None

    def is_shadowed(self, name: str) -> bool:
        return name in self.module_bound or any(name in scope.bound for scope in self.scopes)

    def qualify(self, node: cst.BaseExpression) -> Optional[str]:
        """The qualified name an expression refers to, or None when it is not known."""
        dotted = dotted_name(node)
        if dotted is None:
            if isinstance(node, cst.Call):
                inner = self.call_result_type(node)
                return inner
            return None
        head, _, rest = dotted.partition(".")
        local = self.local_type(head)
        if local is not None:
            return f"{local}.{rest}" if rest else None
        if head in self.aliases:
            base = self.aliases[head]
            return f"{base}.{rest}" if rest else base
        return None

    def decorators(self, node: "cst.FunctionDef | cst.ClassDef") -> List[Optional[str]]:
        """Each decorator by the name it refers to (as written when it is not imported: the
        module defines it); a decorator called with arguments by its function
        (`@pytest.fixture(scope="module")`)."""
        found = []
        for decorator in node.decorators:
            expression = decorator.decorator
            if isinstance(expression, cst.Call):
                expression = expression.func
            found.append(self.qualify(expression) or dotted_name(expression))
        return found

    def builtin(self, node: cst.BaseExpression) -> Optional[str]:
        """The builtin a bare name refers to, unless something in the file rebinds it."""
        if isinstance(node, cst.Name) and node.value not in self.aliases and not self.is_shadowed(node.value):
            return node.value
        return None

    def call_result_type(self, call: cst.Call) -> Optional[str]:
        callee = self.qualify(call.func) or self.builtin(call.func)
        if callee is None:
            return None
        if callee in self._returns:
            return self._returns[callee]
        last = callee.rsplit(".", 1)[-1]
        return callee if last[:1].isupper() else None

    def annotation_type(self, annotation: cst.BaseExpression) -> Optional[str]:
        if isinstance(annotation, cst.Subscript):  # Optional[Path] and friends: not a plain receiver
            return None
        return self.qualify(annotation)


def _top_level_statements(body):
    """Statements at module level, looking inside if/try/with blocks that sit at module level."""
    for statement in body:
        yield statement
        if isinstance(statement, (cst.If, cst.Try, cst.TryStar, cst.With)):
            blocks = [statement.body]
            if isinstance(statement, cst.If) and statement.orelse is not None:
                blocks.append(statement.orelse.body if isinstance(statement.orelse, cst.Else) else statement.orelse)
            if isinstance(statement, (cst.Try, cst.TryStar)):
                blocks.extend(handler.body for handler in statement.handlers)
                if statement.orelse is not None:
                    blocks.append(statement.orelse.body)
            for block in blocks:
                if isinstance(block, cst.If):
                    yield from _top_level_statements([block])
                elif isinstance(block, cst.IndentedBlock):
                    yield from _top_level_statements(block.body)
