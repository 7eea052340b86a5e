"""ARV1xx: APIs, keyword arguments and syntax that the project's supported Pythons lack.

All knowledge lives in rules/compat/versions.toml (APIs) and rules/compat/syntax.toml (syntax);
this module only knows how to find uses and how to recognise the guards that make a use safe."""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.config import Settings, Version, format_version, parse_version
from asyncreview.checks import compat_fixes
from asyncreview.checks.fstrings import needs_pep701
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Words

ALWAYS: Version = (99, 0)  # a guard that covers every version (try/except ImportError, TYPE_CHECKING)
_GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "AttributeError", "NameError", "Exception", "BaseException"}


def _extend_api_versions(value: Any) -> Dict[str, Dict[str, str]]:
    if not isinstance(value, dict):
        raise ValueError('expected a table such as {"mylib.thing" = "3.12"}')
    table = {}
    for name, entry in value.items():
        if isinstance(entry, str):
            entry = {"added": entry}
        if not isinstance(entry, dict) or "added" not in entry:
            raise ValueError(f"{name!r}: expected a version string or {{added = \"3.N\", alternative = \"...\"}}")
        parse_version(entry["added"])
        table[name] = {"added": entry["added"], "alternative": str(entry.get("alternative", "guard it with a version check"))}
    return table


@functools.lru_cache(maxsize=None)
def _base_tables() -> Dict[str, Dict[str, Any]]:
    tables = load_table("compat", "versions")
    tables["syntax"] = load_table("compat", "syntax")
    return tables


@functools.lru_cache(maxsize=32)
def _tables(settings: Settings) -> Dict[str, Dict[str, Any]]:
    tables = dict(_base_tables())
    extra = settings.option("extend-api-versions")
    if extra:
        tables["api"] = {**tables["api"], **extra}
    return tables


def _version(entry: Dict[str, str], key: str = "added") -> Version:
    return parse_version(entry[key])


def _integers(node: cst.BaseExpression) -> Optional[Tuple[int, ...]]:
    if not isinstance(node, cst.Tuple):
        return None
    values = []
    for element in node.elements:
        if not isinstance(element.value, cst.Integer):
            return None
        values.append(int(element.value.value))
    return tuple(values) if len(values) >= 2 else None


def _syntax_screens(entries: List[Dict[str, Any]]) -> List[Prefilter]:
    """What a file must hold to hold one of these constructs (syntax.toml `screen`, `words`)."""
    screens = {(tuple(entry.get("words", ())), _patterns(entry["screen"])) for entry in entries}
    built: List[Prefilter] = []
    for words, patterns in sorted(screens):
        parts = ((Words(*words),) if words else ()) + patterns
        built.append(AllOf(*parts) if len(parts) > 1 else parts[0])
    return built


def _patterns(screen: Any) -> Tuple[Any, ...]:
    """A `screen` as the patterns that must all match; a list inside is alternatives."""
    if isinstance(screen, str):
        return (screen.encode(),)
    return tuple(part.encode() if isinstance(part, str) else tuple(p.encode() for p in part) for part in screen)


class _Comprehension:
    """A comprehension being walked: whether it is asynchronous by itself (`async for`, `await`)
    and the asynchronous comprehensions nested in it, which need 3.11 unless it is."""

    __slots__ = ("first_for", "asynchronous", "nested_async")

    def __init__(self, first_for: cst.CompFor) -> None:
        self.first_for = first_for
        self.asynchronous = False
        self.nested_async: List[cst.CSTNode] = []


class VersionGuards:
    """The version guards around the node being visited (`if sys.version_info >= (3, N):`, a
    flag assigned from such a test, `try/except ImportError`, `hasattr`, TYPE_CHECKING); mixed
    into each rule that reads versions, so that each keeps to the one walk."""

    names: Any

    def __init__(self, context) -> None:
        super().__init__(context)  # type: ignore[call-arg]
        self.new_guards: List[Version] = []  # "this code only runs on >= V"
        self.old_guards: List[Version] = []  # "this code only runs on < V"
        self.version_flags: Dict[str, Tuple[str, Version]] = {}

    # -- guards --------------------------------------------------------------------------------
    def _version_test(self, test: cst.BaseExpression) -> Optional[Tuple[str, Version]]:
        """("ge", V): true exactly on Python >= V. ("lt", V): true exactly below V."""
        if isinstance(test, cst.Name) and test.value in self.version_flags:
            return self.version_flags[test.value]
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self._version_test(test.expression)
            if inner:
                return ("lt" if inner[0] == "ge" else "ge", inner[1])
            return None
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        left, target = test.left, test.comparisons[0].comparator
        operator = test.comparisons[0].operator
        flipped = False
        if _integers(left) is not None:
            left, target, flipped = target, left, True
        if isinstance(left, cst.Subscript):
            left = left.value
        if self.names.qualify(left) != "sys.version_info":
            return None
        numbers = _integers(target)
        if numbers is None:
            return None
        version = (numbers[0], numbers[1])
        kind = type(operator).__name__
        if flipped:
            kind = {"GreaterThanEqual": "LessThanEqual", "LessThanEqual": "GreaterThanEqual",
                    "GreaterThan": "LessThan", "LessThan": "GreaterThan"}.get(kind, kind)
        # sys.version_info is a 5-tuple: (3, 10, 1, ...) > (3, 10) and not <= (3, 10).
        if kind in ("GreaterThanEqual", "GreaterThan"):
            return ("ge", version)
        if kind in ("LessThan", "LessThanEqual"):
            return ("lt", version)
        return None

    def _guard_of(self, test: cst.BaseExpression) -> Tuple[Optional[Tuple[str, Version]], bool]:
        """(version test, is-feature-test) for an if condition; `and` chains count any part."""
        parts = [test]
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            parts = [test.left, test.right]
        for part in parts:
            found = self._version_test(part)
            if found:
                return found, False
        for part in parts:
            if isinstance(part, cst.Call) and isinstance(part.func, cst.Name) and part.func.value == "hasattr":
                return None, True
            name = dotted_name(part) if isinstance(part, (cst.Name, cst.Attribute)) else None
            if name in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                return None, True
        return None, False

    def visit_If_body(self, node: cst.If) -> None:
        test, feature = self._guard_of(node.test)
        self.new_guards.append(ALWAYS if feature else (test[1] if test and test[0] == "ge" else (0, 0)))
        self.old_guards.append(test[1] if test and test[0] == "lt" else ALWAYS)

    def _leave_guard(self, node: cst.CSTNode) -> None:
        self.new_guards.pop()
        self.old_guards.pop()

    leave_If_body = _leave_guard

    def visit_If_orelse(self, node: cst.If) -> None:
        test, _ = self._guard_of(node.test)
        self.new_guards.append(test[1] if test and test[0] == "lt" else (0, 0))
        self.old_guards.append(test[1] if test and test[0] == "ge" else ALWAYS)

    def leave_If_orelse(self, node: cst.If) -> None:
        self._leave_guard(node)

    def _try_guards(self, node) -> bool:
        for handler in node.handlers:
            if handler.type is None:
                return True
            types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
            for item in types:
                value = item.value if isinstance(item, cst.Element) else item
                name = dotted_name(value)
                if name and name.split(".")[-1] in _GUARD_EXCEPTIONS:
                    return True
        return False

    def visit_Try_body(self, node: cst.Try) -> None:
        guarded = self._try_guards(node)
        self.new_guards.append(ALWAYS if guarded else (0, 0))
        self.old_guards.append((0, 0) if guarded else ALWAYS)

    def leave_Try_body(self, node: cst.Try) -> None:
        self._leave_guard(node)

    visit_TryStar_body = visit_Try_body
    leave_TryStar_body = leave_Try_body

    def _is_new_guarded(self, added: Version) -> bool:
        return any(guard >= added for guard in self.new_guards)

    def _is_old_guarded(self, removed: Version) -> bool:
        return any(guard <= removed for guard in self.old_guards)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            test = self._version_test(node.value)
            if test:
                self.version_flags[node.targets[0].target.value] = test


class VersionCompat(VersionGuards, Rule):
    codes = ("ARV101", "ARV102", "ARV103", "ARV104")
    family = "compat"
    options = {"extend-api-versions": _extend_api_versions}

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # Only what the project's Pythons can be flagged for: added after its target, or removed
        # by its newest. (Most files mention asyncio or typing; few name a 3.12 API.)
        tables = _tables(settings)

        def flagged(entry: Dict[str, str]) -> bool:
            if "removed" in entry:
                return settings.newest >= _version(entry, "removed")
            return _version(entry) > settings.target

        names = [name for section in ("api", "builtin", "removed") for name, entry in tables[section].items() if flagged(entry)]
        callees: Set[str] = set()
        keywords: Set[str] = set()
        for section in ("keyword", "removed-keyword"):
            for callee, entries in tables[section].items():
                flagged_here = {keyword for keyword, entry in entries.items() if flagged(entry)}
                if flagged_here:
                    callees.add(callee)
                    keywords |= flagged_here
        screens: List[Prefilter] = [Paired(mention_pairs(names))]
        if keywords:  # `loop=` in a call of a function named through the imports
            screens.append(AllOf(Words(*keywords), Paired(mention_pairs(callees))))
        screens.extend(_syntax_screens([entry for entry in tables["syntax"].values() if flagged(entry)]))
        return tuple(screens)

    def __init__(self, context) -> None:
        super().__init__(context)
        settings = context.settings
        self.target = settings.target
        self.newest = settings.newest
        self.tables = _tables(settings)
        self.not_references: Set[int] = set()
        self.lazy_annotations = False
        self.from_imported: Set[str] = set()
        self.annotation_depth = 0
        self.new_syntax = {key: entry for key, entry in self.tables["syntax"].items() if _version(entry) > self.target}
        self.walrus_places: Dict[int, str] = {}  # id of an unparenthesized `:=` -> where it stands
        self.handled_syntax: Set[int] = set()  # nodes already reported under a stronger key
        self.loop_blocks: List[str] = []  # "loop", "finally" or "scope", innermost last
        self.comprehensions: List[Optional[_Comprehension]] = []  # None: a scope of its own
        self.first_iterables: List[cst.CompFor] = []
        self.fstrings_reported: List[bool] = []  # per enclosing f-string: reported already
        self.called: Dict[int, cst.Call] = {}  # id of a call's callee -> the call (for fixes)
        self.entered: Dict[int, cst.With] = {}  # id of an `async with` item's call -> the statement
        self.awaited: Set[int] = set()  # ids of awaited expressions
        self.caught: List[Set[str]] = []  # per enclosing try body: what its handlers catch

    # -- bookkeeping -----------------------------------------------------------------------------
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = dotted_name(node.module) if node.module is not None else None
        if module == "__future__" and not isinstance(node.names, cst.ImportStar):
            if any(isinstance(a.name, cst.Name) and a.name.value == "annotations" for a in node.names):
                self.lazy_annotations = True
            return
        if isinstance(node.names, cst.ImportStar) or module is None or node.relative:
            return
        for alias in node.names:
            self.not_references.add(id(alias.name))
            if isinstance(alias.name, cst.Name):
                local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else alias.name.value
                self.from_imported.add(local)
                self._check_api(alias.name, f"{module}.{alias.name.value}")
                self._check_removed(alias.name, f"{module}.{alias.name.value}")

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self.not_references.add(id(alias.name))
            name = dotted_name(alias.name)
            if name:
                self._check_api(alias.name, name)

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.annotation_depth += 1

    def leave_Annotation(self, node: cst.Annotation) -> None:
        self.annotation_depth -= 1

    def _skip_names_of(self, *nodes: Any) -> None:
        for node in nodes:
            if isinstance(node, cst.Name):
                self.not_references.add(id(node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip_names_of(node.name)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._skip_names_of(node.name)

    def visit_Arg(self, node: cst.Arg) -> None:
        self._skip_names_of(node.keyword)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._skip_names_of(node.name)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.not_references.add(id(node.attr))
        if not self._in_lazy_annotation():
            name = self._qualify_reference(node)
            if name:
                self._check_api(node, name)
                self._check_removed(node, name)
        # The chain's inner parts are references too (`asyncio.TaskGroup` inside
        # `asyncio.TaskGroup.create_task`); the table lists each spelling it cares about.
        return True

    def visit_Name(self, node: cst.Name) -> None:
        # Only a table builtin or an imported name can name something in the tables (a bare name
        # qualifies through the imports alone): most names leave here, before any lookup.
        if node.value not in self.tables["builtin"] and node.value not in self.names.aliases:
            return
        if id(node) in self.not_references or self._in_lazy_annotation():
            return
        builtin = self.names.builtin(node)
        if builtin is not None and builtin in self.tables["builtin"]:
            self._flag_new(node, builtin, self.tables["builtin"][builtin], "ARV101", kind="builtin")
            return
        if node.value in self.from_imported:
            return  # the import line is where an older Python fails; it is reported there
        name = self._qualify_reference(node)
        if name:
            self._check_api(node, name)
            self._check_removed(node, name)

    def _in_lazy_annotation(self) -> bool:
        return self.annotation_depth > 0 and self.lazy_annotations

    def _qualify_reference(self, node: cst.BaseExpression) -> Optional[str]:
        if type(node) is cst.Attribute and type(node.value) is cst.Call:  # type: ignore[attr-defined]
            owner = self.names.call_result_type(node.value)
            return f"{owner}.{node.attr.value}" if owner else None
        return self.names.qualify(node)

    # -- checks --------------------------------------------------------------------------------
    def _check_api(self, node: cst.CSTNode, name: str) -> None:
        entry = self.tables["api"].get(name)
        if entry is not None:
            self._flag_new(node, name, entry, "ARV101", fix=self._new_api_fix(node, entry))

    def _new_api_fix(self, node: cst.CSTNode, entry: Dict[str, Any]) -> Optional[Any]:
        """ARV101's fix, where the entry has one and the flagged name is called in its shape."""
        fix = entry.get("fix")
        call = self.called.get(id(node)) if fix else None
        if call is None or not self._replacement_runs(fix) or any(set(fix.get("unless-caught", ())) & caught for caught in self.caught):
            return None
        if "call" in fix:
            return compat_fixes.call_rewrite(fix, call) if id(call) in self.awaited or not fix.get("awaited") else None
        statement = self.entered.get(id(call))
        return compat_fixes.async_with_rewrite(fix, statement, call) if statement is not None else None

    def _replacement_runs(self, fix: Dict[str, Any]) -> bool:
        """A replacement that itself needs a newer Python than the project's (`needs`) is no fix."""
        return all(_version(self.tables["api"][name]) <= self.target for name in fix.get("needs", ()))

    def _check_removed(self, node: cst.CSTNode, name: str) -> None:
        entry = self.tables["removed"].get(name)
        if entry is None:
            return
        removed = _version(entry, "removed")
        if self.newest < removed or self._is_old_guarded(removed):
            return
        fix = entry.get("fix")
        self.report(
            node,
            f"`{name}` was removed in Python {entry['removed']}, which the project supports "
            f"(up to {format_version(self.newest)}; {self._origin()}). Instead: {entry['alternative']}.",
            code="ARV104",
            fix=compat_fixes.reference_rewrite(fix, node) if fix and self._replacement_runs(fix) else None,
        )

    def _flag_new(self, node: cst.CSTNode, name: str, entry: Dict[str, str], code: str, kind: str = "",
                  fix: Optional[Any] = None) -> None:
        added = _version(entry)
        if added <= self.target or self._is_new_guarded(added):
            return
        what = f"builtin `{name}()`" if kind == "builtin" else f"`{name}`"
        self.report(
            node,
            f"{what} needs Python {entry['added']}, but the project supports {format_version(self.target)} "
            f"({self._origin()}). Instead: {entry['alternative']}, or guard it with "
            f"`if sys.version_info >= ({added[0]}, {added[1]}):`.",
            code=code,
            fix=fix,
        )

    def _origin(self) -> str:
        return self.context.settings.target_origin

    def visit_Call(self, node: cst.Call) -> None:
        self.called[id(node.func)] = node
        callee = self._qualify_reference(node.func)
        if callee is None:
            return
        added_keywords = self.tables["keyword"].get(callee, {})
        removed_keywords = self.tables["removed-keyword"].get(callee, {})
        for arg in node.args:
            if arg.keyword is None:
                continue
            keyword = arg.keyword.value
            if keyword in added_keywords:
                entry = added_keywords[keyword]
                added = _version(entry)
                if added > self.target and not self._is_new_guarded(added):
                    self.report(
                        arg,
                        f"`{callee}({keyword}=...)` needs Python {entry['added']}, but the project supports "
                        f"{format_version(self.target)} ({self._origin()}). Instead: {entry['alternative']}.",
                        code="ARV102",
                    )
            if keyword in removed_keywords:
                entry = removed_keywords[keyword]
                removed = _version(entry, "removed")
                if self.newest >= removed and not self._is_old_guarded(removed):
                    self.report(
                        arg,
                        f"`{callee}({keyword}=...)` was removed in Python {entry['removed']}, which the project "
                        f"supports (up to {format_version(self.newest)}; {self._origin()}). Instead: {entry['alternative']}.",
                        code="ARV104",
                        fix=compat_fixes.drop_keyword(node, arg) if entry.get("fix") == "drop" else None,
                    )

    # -- syntax (ARV103): which construct is which key of rules/compat/syntax.toml --------------
    def _syntax(self, node: cst.CSTNode, key: str) -> None:
        entry = self.new_syntax.get(key)
        if entry is None or id(node) in self.handled_syntax:
            return
        self.report(
            node,
            f"{entry['what'][0].upper()}{entry['what'][1:]} needs Python {entry['added']} ({entry['pep']}), but the "
            f"project supports {format_version(self.target)} ({self._origin()}); "
            f"{entry.get('effect', 'the module will not even import there')}. Instead: {entry['alternative']}.",
            code="ARV103",
        )

    def _strongest(self, node: cst.CSTNode, *keys: str) -> None:
        """Report the construct once, under the key that needs the newest Python."""
        flagged = [key for key in keys if key in self.new_syntax]
        if flagged:
            self._syntax(node, max(flagged, key=lambda key: _version(self.new_syntax[key])))
            self.handled_syntax.add(id(node))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._syntax(node, self.walrus_places.pop(id(node), "assignment-expression"))

    def _note_bare_walrus(self, value: cst.CSTNode, place: str) -> None:
        if type(value) is cst.NamedExpr and not value.lpar:  # type: ignore[attr-defined]
            self.walrus_places[id(value)] = place

    def visit_Index(self, node: cst.Index) -> None:
        if node.star is not None:
            self._syntax(node, "unpacking-in-subscript")
        if type(node.value) is cst.Tuple and not node.value.lpar:  # type: ignore[attr-defined]
            for element in node.value.elements:  # type: ignore[attr-defined]
                self._note_bare_walrus(element.value, "unparenthesized-assignment-expression-in-index")
        self._note_bare_walrus(node.value, "unparenthesized-assignment-expression-in-index")

    def visit_Set(self, node: cst.Set) -> None:
        for element in node.elements:
            self._note_bare_walrus(element.value, "unparenthesized-assignment-expression-in-set")

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._note_bare_walrus(node.elt, "unparenthesized-assignment-expression-in-set")
        self._enter_comprehension(node)

    def visit_Parameters(self, node: cst.Parameters) -> None:
        if isinstance(node.posonly_ind, cst.ParamSlash):
            self._syntax(node.posonly_ind, "positional-only-parameters")

    def visit_Param(self, node: cst.Param) -> None:
        self._skip_names_of(node.name)
        if node.annotation is not None and type(node.annotation.annotation) is cst.StarredElement:
            self._syntax(node.annotation, "unpacked-star-annotation")

    def _bare_starred_tuple(self, value: Optional[cst.BaseExpression]) -> bool:
        return (type(value) is cst.Tuple and not value.lpar  # type: ignore[union-attr]
                and any(type(element) is cst.StarredElement for element in value.elements))  # type: ignore[union-attr]

    def visit_Return(self, node: cst.Return) -> None:
        if self._bare_starred_tuple(node.value):
            self._syntax(node, "unparenthesized-unpacking-in-return-yield")

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._bare_starred_tuple(node.value):  # type: ignore[arg-type]
            self._syntax(node, "unparenthesized-unpacking-in-return-yield")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if type(node.value) is cst.Tuple and not node.value.lpar:  # type: ignore[union-attr]
            self._syntax(node.value, "unparenthesized-tuple-in-annotated-assignment")

    def visit_For(self, node: cst.For) -> None:
        if self._bare_starred_tuple(node.iter):
            self._syntax(node.iter, "unpacking-in-for-iterable")

    # `continue` directly in a `finally` block: the innermost loop or function decides.
    def _enter_block(self, kind: str) -> None:
        self.loop_blocks.append(kind)

    def _leave_block(self, node: cst.CSTNode) -> None:
        self.loop_blocks.pop()

    def visit_For_body(self, node: cst.For) -> None:
        self._enter_block("loop")

    def visit_While_body(self, node: cst.While) -> None:
        self._enter_block("loop")

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._enter_block("scope")

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self._enter_block("scope")

    def visit_Finally(self, node: cst.Finally) -> None:
        self._enter_block("finally")

    leave_For_body = leave_While_body = leave_FunctionDef_body = leave_ClassDef_body = leave_Finally = _leave_block

    def visit_Continue(self, node: cst.Continue) -> None:
        if self.loop_blocks and self.loop_blocks[-1] == "finally":
            self._syntax(node, "continue-in-finally")

    def visit_Decorator(self, node: cst.Decorator) -> None:
        decorator = node.decorator
        if type(decorator) is cst.Call and not decorator.lpar:  # type: ignore[attr-defined]
            decorator = decorator.func  # type: ignore[attr-defined]
        while type(decorator) is cst.Attribute and not decorator.lpar:  # type: ignore[attr-defined]
            decorator = decorator.value  # type: ignore[attr-defined]
        if type(decorator) is not cst.Name or decorator.lpar:  # type: ignore[attr-defined]
            self._syntax(node.decorator, "relaxed-decorators")

    def visit_Try_body(self, node: cst.Try) -> None:
        super().visit_Try_body(node)
        caught: Set[str] = set()
        for handler in node.handlers:
            types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type] if handler.type else []
            caught.update(filter(None, (dotted_name(item.value if isinstance(item, cst.Element) else item) for item in types)))
        self.caught.append(caught)

    def leave_Try_body(self, node: cst.Try) -> None:
        super().leave_Try_body(node)
        self.caught.pop()

    visit_TryStar_body = visit_Try_body
    leave_TryStar_body = leave_Try_body

    def visit_With(self, node: cst.With) -> None:
        if node.asynchronous is not None:
            for item in node.items:
                self.entered[id(item.item)] = node
        if not isinstance(node.lpar, cst.LeftParen):
            return
        if any(item.asname is not None for item in node.items):
            self._syntax(node, "parenthesized-context-managers")
        elif len(node.items) > 1 or isinstance(node.items[-1].comma, cst.Comma):
            self._syntax(node, "parenthesized-context-managers-without-as")  # a tuple before 3.9

    def visit_Match(self, node: cst.Match) -> None:
        self._syntax(node, "match-statement")

    def visit_TryStar(self, node: cst.TryStar) -> None:
        if node.handlers:
            self._syntax(node.handlers[0], "except-star")

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if type(node.type) is cst.Tuple and not node.type.lpar:  # type: ignore[union-attr]
            self._syntax(node.type, "except-without-parentheses")

    visit_ExceptStarHandler = visit_ExceptHandler

    def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
        parameters = node.type_parameters
        defaults = parameters is not None and any(param.default is not None for param in parameters.params)
        self._strongest(node, "type-alias-statement", *(["type-parameter-defaults"] if defaults else []))
        if parameters is not None:
            self.handled_syntax.add(id(parameters))

    def visit_TypeParameters(self, node: cst.TypeParameters) -> None:
        defaults = any(param.default is not None for param in node.params)
        self._strongest(node, "type-parameters", *(["type-parameter-defaults"] if defaults else []))

    def visit_TemplatedString(self, node: cst.CSTNode) -> None:
        self._syntax(node, "template-strings")

    def visit_FormattedStringExpression(self, node: cst.FormattedStringExpression) -> None:
        if isinstance(node.equal, cst.AssignEqual):
            self._syntax(node, "fstring-self-documenting")

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        reported = bool(self.fstrings_reported) and self.fstrings_reported[-1]
        if not reported and "fstring-pep701" in self.new_syntax and needs_pep701(node):
            self._syntax(node, "fstring-pep701")
            reported = True
        self.fstrings_reported.append(reported)

    def leave_FormattedString(self, node: cst.FormattedString) -> None:
        self.fstrings_reported.pop()

    # Asynchronous comprehensions inside synchronous ones (3.11). The first iterable of a
    # comprehension belongs to the scope around it; a generator expression is never awaited.
    def _enter_comprehension(self, node: cst.BaseComp) -> None:
        self.comprehensions.append(_Comprehension(node.for_in))  # `async for`: visit_CompFor

    visit_ListComp = visit_DictComp = visit_GeneratorExp = _enter_comprehension

    def visit_CompFor(self, node: cst.CompFor) -> None:
        frame = self.comprehensions[-1] if self.comprehensions else None
        if frame is not None and node.asynchronous is not None:
            frame.asynchronous = True

    def visit_CompFor_iter(self, node: cst.CompFor) -> None:
        frame = self.comprehensions[-1] if self.comprehensions else None
        if frame is not None and frame.first_for is node:
            self.first_iterables.append(node)
            self.comprehensions.append(self.comprehensions[-2] if len(self.comprehensions) > 1 else None)

    def leave_CompFor_iter(self, node: cst.CompFor) -> None:
        if self.first_iterables and self.first_iterables[-1] is node:
            self.first_iterables.pop()
            self.comprehensions.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.comprehensions.append(None)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.comprehensions.pop()

    def visit_Await(self, node: cst.Await) -> None:
        self.awaited.add(id(node.expression))
        if self.comprehensions and self.comprehensions[-1] is not None:
            self.comprehensions[-1].asynchronous = True

    def _leave_comprehension(self, node: cst.CSTNode) -> None:
        frame = self.comprehensions.pop()
        assert frame is not None
        if not frame.asynchronous:
            for inner in frame.nested_async:
                self._syntax(inner, "async-comprehension-in-comprehension")
        elif type(node) is not cst.GeneratorExp and self.comprehensions and self.comprehensions[-1] is not None:
            self.comprehensions[-1].nested_async.append(node)

    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comprehension


RULES = [VersionCompat]
