"""ARV1xx: APIs, keyword arguments and syntax that the project's supported Pythons lack.

All knowledge lives in rules/compat/versions.toml; this module only knows how to find uses and
how to recognise the guards that make a use safe."""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.config import Settings, Version, format_version, parse_version
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
    return load_table("compat", "versions")


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


class VersionCompat(Rule):
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
        for key, keyword, pattern in (("except-star", "except", rb"except(?:\s|\\)*\*"),
                                      ("parenthesized-context-managers", "with", rb"with(?:\s|\\)*\(")):
            if flagged(tables["syntax"][key]):
                screens.append(AllOf(Words(keyword), pattern))
        return tuple(screens)

    def __init__(self, context) -> None:
        super().__init__(context)
        settings = context.settings
        self.target = settings.target
        self.newest = settings.newest
        self.tables = _tables(settings)
        self.new_guards: List[Version] = []  # "this code only runs on >= V"
        self.old_guards: List[Version] = []  # "this code only runs on < V"
        self.version_flags: Dict[str, Tuple[str, Version]] = {}
        self.not_references: Set[int] = set()
        self.lazy_annotations = False
        self.from_imported: Set[str] = set()
        self.annotation_depth = 0

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

    def leave_If_body(self, node: cst.If) -> None:
        self.new_guards.pop()
        self.old_guards.pop()

    def visit_If_orelse(self, node: cst.If) -> None:
        test, _ = self._guard_of(node.test)
        self.new_guards.append(test[1] if test and test[0] == "lt" else (0, 0))
        self.old_guards.append(test[1] if test and test[0] == "ge" else ALWAYS)

    def leave_If_orelse(self, node: cst.If) -> None:
        self.leave_If_body(node)

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
        self.leave_If_body(node)  # type: ignore[arg-type]

    visit_TryStar_body = visit_Try_body
    leave_TryStar_body = leave_Try_body

    def _is_new_guarded(self, added: Version) -> bool:
        return any(guard >= added for guard in self.new_guards)

    def _is_old_guarded(self, removed: Version) -> bool:
        return any(guard <= removed for guard in self.old_guards)

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

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            test = self._version_test(node.value)
            if test:
                self.version_flags[node.targets[0].target.value] = test

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

    def visit_Param(self, node: cst.Param) -> None:
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
            self._flag_new(node, name, entry, "ARV101")

    def _check_removed(self, node: cst.CSTNode, name: str) -> None:
        entry = self.tables["removed"].get(name)
        if entry is None:
            return
        removed = _version(entry, "removed")
        if self.newest < removed or self._is_old_guarded(removed):
            return
        self.report(
            node,
            f"`{name}` was removed in Python {entry['removed']}, which the project supports "
            f"(up to {format_version(self.newest)}; {self._origin()}). Instead: {entry['alternative']}.",
            code="ARV104",
        )

    def _flag_new(self, node: cst.CSTNode, name: str, entry: Dict[str, str], code: str, kind: str = "") -> None:
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
        )

    def _origin(self) -> str:
        return self.context.settings.target_origin

    def visit_Call(self, node: cst.Call) -> None:
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
                    )

    def _syntax(self, node: cst.CSTNode, key: str, what: str) -> None:
        entry = self.tables["syntax"][key]
        if _version(entry) > self.target:
            self.report(
                node,
                f"{what} needs Python {entry['added']}, but the project supports {format_version(self.target)} "
                f"({self._origin()}); the module will not even import there. Instead: {entry['alternative']}.",
                code="ARV103",
            )

    def visit_TryStar(self, node: cst.TryStar) -> None:
        if node.handlers:
            self._syntax(node.handlers[0], "except-star", "`except*`")

    def visit_With(self, node: cst.With) -> None:
        if isinstance(node.lpar, cst.LeftParen):
            self._syntax(node, "parenthesized-context-managers", "a parenthesized group of context managers")


RULES = [VersionCompat]
