"""ARV105: APIs that still exist but warn or raise on some of the project's Pythons, in the place
their entry names: `asyncio.get_event_loop()` where no loop runs and none was set (a RuntimeError
from 3.14), the event-loop policy functions and classes (deprecated in 3.14).

What changed, when and where is data (the `changed` section of rules/compat/versions.toml); this
module knows where no loop can be running: module level, and a sync function that then starts the
loop it got (a function that may be called from a coroutine or callback gets the running loop)."""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.checks.compat import ALWAYS, VersionGuards
from asyncreview.checks.compat_fixes import run_rewrite
from asyncreview.config import Settings, Version, format_version, parse_version
from asyncreview.finding import Severity
from asyncreview.fixes import Rewrite
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import Paired, Prefilter, Report, Rule


@functools.lru_cache(maxsize=1)
def _changed() -> Dict[str, Dict[str, Any]]:
    """The `changed` entries, a `same-as` entry resolved to the entry it names."""
    table = load_table("compat", "versions")["changed"]
    return {name: table[entry["same-as"]] if "same-as" in entry else entry for name, entry in table.items()}


@functools.lru_cache(maxsize=1)
def _loop_setters() -> Set[str]:
    """Calls that set the current loop (`set-by`): after one, `get_event_loop()` returns it."""
    return {name for entry in _changed().values() for name in entry.get("set-by", ())}


@functools.lru_cache(maxsize=1)
def _api_table() -> Dict[str, Dict[str, Any]]:
    return load_table("compat", "versions")["api"]


@functools.lru_cache(maxsize=1)
def _runner_methods() -> Tuple[str, ...]:
    """`loop.run_until_complete(...)`, `loop.run_forever()`: the ARV503 table."""
    return tuple(load_table("correctness", "knowledge")["loop-runners"]["methods"])


def _effects(entry: Dict[str, Any], lowest: Version, highest: Version) -> List[Dict[str, Any]]:
    """The effects of an entry on the Pythons from `lowest` to `highest`."""
    return [effect for effect in entry["effects"] if parse_version(effect["since"]) <= highest
            and ("until" not in effect or parse_version(effect["until"]) > lowest)]


def _releases(effect: Dict[str, Any], lowest: Version, highest: Version) -> str:
    """The Pythons of the project an effect concerns: `3.12-3.13`, or the entry's own `releases`."""
    if "releases" in effect:
        return effect["releases"]
    first = max(parse_version(effect["since"]), lowest)
    last = highest
    if "until" in effect:
        until = parse_version(effect["until"])
        last = min(highest, (until[0], until[1] - 1))
    return format_version(first) if first == last else f"{format_version(first)}-{format_version(last)}"


@functools.lru_cache(maxsize=1)
def _anywhere_attributes() -> Set[str]:
    """The last parts of the names flagged wherever they are used: most attributes leave on it."""
    return {name.rsplit(".", 1)[-1] for name, entry in _changed().items() if entry["where"] == "anywhere"}


class _Pending:
    """A `get_event_loop()` in a sync function, reported if the function starts the loop it got;
    where it stands is kept for the report (its line's `# noqa`, its snippet)."""

    __slots__ = ("call", "bound", "report")

    def __init__(self, call: cst.Call, bound: Optional[str], report: Report) -> None:
        self.call = call
        self.bound = bound  # the name the loop is bound to
        self.report = report


class _Scope:
    """A function body (or the module) being walked, for `get_event_loop()` where no loop runs."""

    __slots__ = ("kind", "loop_set", "pending", "started", "node")

    def __init__(self, kind: str, node: Optional[cst.CSTNode] = None) -> None:
        self.kind = kind  # "module", "sync", "async" or "deferred" (a lambda)
        self.node = node  # the function (None: the module)
        self.loop_set = False  # a `set-by` call came before, in this scope
        self.pending: List[_Pending] = []
        self.started: Set[str] = set()  # receivers of run_until_complete()/run_forever()


class ChangedBehaviour(VersionGuards, Rule):
    codes = ("ARV105",)
    family = "compat"

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        names = [name for name, entry in _changed().items() if _effects(entry, settings.target, settings.newest)]
        return Paired(mention_pairs(names))

    def __init__(self, context) -> None:
        super().__init__(context)
        self.scopes: List[_Scope] = [_Scope("module")]
        self.handling: List[Set[str]] = []  # per enclosing try body: the exceptions its handlers catch
        self.bound: Dict[int, str] = {}  # id of an assigned call -> the name it is bound to
        self.chained: Dict[int, cst.Call] = {}  # id of a call a loop is started on directly -> that start
        self.module = cst.Module(body=[])  # the file's, from visit_Module
        self.not_references: Set[int] = set()
        self.from_imported: Set[str] = set()
        self.unrun: List[bool] = []  # per enclosing if body: `if TYPE_CHECKING:`, which never runs
        self.lazy_annotations = False  # `from __future__ import annotations`: annotations never run
        self.annotation_depth = 0

    # -- scopes ----------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.module = node

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.scopes.append(_Scope("async" if node.asynchronous is not None else "sync", node))

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        scope = self.scopes.pop()
        for pending in scope.pending:
            if id(pending.call) in self.chained or (pending.bound is not None and pending.bound in scope.started):
                self.context.reports.append(pending.report)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.append(_Scope("deferred"))

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.pop()

    def visit_Try_body(self, node: cst.Try) -> None:
        super().visit_Try_body(node)
        caught: Set[str] = set()
        for handler in node.handlers:
            if handler.type is None:
                caught.add("BaseException")
                continue
            types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
            for item in types:
                name = dotted_name(item.value if isinstance(item, cst.Element) else item)
                if name:
                    caught.add(name.rsplit(".", 1)[-1])
        self.handling.append(caught)

    def leave_Try_body(self, node: cst.Try) -> None:
        super().leave_Try_body(node)
        self.handling.pop()

    visit_TryStar_body = visit_Try_body
    leave_TryStar_body = leave_Try_body

    def visit_If_body(self, node: cst.If) -> None:
        super().visit_If_body(node)
        self.unrun.append(dotted_name(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"))

    def leave_If_body(self, node: cst.If) -> None:
        super().leave_If_body(node)
        self.unrun.pop()

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.annotation_depth += 1

    def leave_Annotation(self, node: cst.Annotation) -> None:
        self.annotation_depth -= 1

    def visit_Assign(self, node: cst.Assign) -> None:
        super().visit_Assign(node)
        if len(node.targets) == 1:
            self._bind(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """`loop = asyncio.get_event_loop()`: the name a later `loop.run_forever()` starts."""
        name = dotted_name(target)
        if name and isinstance(value, cst.Call):
            self.bound[id(value)] = name

    # -- references ------------------------------------------------------------------------------
    def _window(self) -> Tuple[Version, Version]:
        """The Pythons the code being visited runs on: the project's, narrowed by version guards."""
        settings = self.context.settings
        lowest = max([settings.target, *(guard for guard in self.new_guards if guard != ALWAYS)])
        highest = min([settings.newest, *((guard[0], guard[1] - 1) for guard in self.old_guards if guard != ALWAYS)])
        return lowest, highest

    def visit_Import(self, node: cst.Import) -> None:
        self.not_references.update(id(alias.name) for alias in node.names)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and not isinstance(node.names, cst.ImportStar):
            module = dotted_name(node.module)
            if module == "__future__":
                self.lazy_annotations |= any(isinstance(alias.name, cst.Name) and alias.name.value == "annotations" for alias in node.names)
                return
            for alias in node.names:
                self.not_references.add(id(alias.name))
                if module and isinstance(alias.name, cst.Name) and not node.relative:
                    local = alias.asname.name if alias.asname else alias.name
                    if isinstance(local, cst.Name):
                        self.from_imported.add(local.value)
                    self._anywhere(alias.name, f"{module}.{alias.name.value}")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.not_references.add(id(node.attr))
        if node.attr.value in _anywhere_attributes() and id(node) not in self.not_references:
            self._anywhere(node, self.names.qualify(node))

    def visit_Name(self, node: cst.Name) -> None:
        # A name imported from the module is reported once, on its import line (as ARV104 does).
        if node.value in self.names.aliases and node.value not in self.from_imported and id(node) not in self.not_references:
            self._anywhere(node, self.names.qualify(node))

    def _anywhere(self, node: cst.CSTNode, name: Optional[str]) -> None:
        """A use of a name deprecated wherever it runs: not under TYPE_CHECKING, nor in an
        annotation that is never evaluated."""
        entry = _changed().get(name) if name else None
        if any(self.unrun) or (self.lazy_annotations and self.annotation_depth):
            return
        if entry is not None and entry["where"] == "anywhere":
            self._report(node, name, entry, *self._window())  # type: ignore[arg-type]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _runner_methods():
            receiver = func.value
            if isinstance(receiver, cst.Call):
                self.chained[id(receiver)] = node
            else:
                name = dotted_name(receiver)
                if name:
                    self.scopes[-1].started.add(name)
        name = self.names.qualify(func)
        scope = self.scopes[-1]
        if name in _loop_setters():
            scope.loop_set = True
            return
        entry = _changed().get(name) if name else None
        if entry is None or entry["where"] != "no-loop":
            return
        if scope.loop_set or any(caught & set(entry["handled-by"]) for caught in self.handling):
            return
        if scope.kind == "module":
            self._report(node, name, entry, *self._window(), fix=self._run_fix(node, entry, scope))  # type: ignore[arg-type]
        elif scope.kind == "sync" and all(outer.kind != "async" for outer in self.scopes):
            report = self._report(node, name, entry, *self._window(), later=True,  # type: ignore[arg-type]
                                  fix=self._run_fix(node, entry, scope))
            if report is not None:
                scope.pending.append(_Pending(node, self.bound.get(id(node)), report))

    def _run_fix(self, call: cst.Call, entry: Dict[str, Any], scope: _Scope) -> Optional[Rewrite]:
        fix = entry.get("fix")
        api = _api_table()
        if not fix or any(parse_version(api[name]["added"]) > self.context.settings.target for name in fix.get("needs", ())):
            return None
        return run_rewrite(fix, call, self.chained.get(id(call)), self.context.statements, self.module,
                           scope.node if scope.node is not None else self.module)

    # -- the finding -----------------------------------------------------------------------------
    def _report(self, node: cst.CSTNode, name: str, entry: Dict[str, Any], lowest: Version, highest: Version,
                later: bool = False, fix: Optional[Rewrite] = None) -> Optional[Report]:
        """Report a use on the Pythons from `lowest` to `highest`; `later`: return the report, for
        the end of the function to file, rather than filing it."""
        effects = _effects(entry, lowest, highest)
        if not effects or "ARV105" not in self.context.settings.enabled:
            return None
        outcomes = []
        for outcome in ("raises", "warns"):
            chosen = [effect for effect in effects if effect["outcome"] == outcome]
            if chosen:
                releases = [_releases(effect, lowest, highest) for effect in chosen]
                errors = sorted({effect["error"] for effect in chosen})
                outcomes.append(f"{outcome} on Python {', '.join(releases)} ({'; '.join(errors)})")
        settings = self.context.settings
        where = "()` with no event loop running or set" if entry["where"] == "no-loop" else "` is deprecated:"
        message = (f"`{name}{where} {' and '.join(outcomes)}; the project supports {format_version(settings.target)} "
                   f"to {format_version(settings.newest)} ({settings.target_origin}). Instead: {entry['alternative']}.")
        severity = Severity.CRITICAL if outcomes[0].startswith("raises") else Severity.WARNING
        if not later:
            self.report(node, message, code="ARV105", severity=severity, kind=name, fix=fix)
            return None
        statement = self.context.statements[-1] if self.context.statements else node
        return Report(node, "ARV105", message, severity, statement, "", self.context.place, name, fix)


RULES = [ChangedBehaviour]
