"""ARV505: a coroutine that is never awaited. Calling a coroutine function only makes a coroutine
object; dropped (a bare statement, or a name nothing reads again) it never runs, and Python says
so only when the object is collected, as a RuntimeWarning nobody reads.

Coroutine functions are the project's own `async def`s (this file's functions and methods through
`self.`, other modules' through the project join) and the library calls of
rules/correctness/coroutines.toml, on receivers the name resolver types."""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Set, Tuple, Union

import libcst as cst

from asyncreview.catalogue import load_table, rule_docs
from asyncreview.checks.blocking import _STDLIB, Graph, NestedKeys
from asyncreview.config import Settings
from asyncreview.finding import SAFE, Edit, Finding, Fix
from asyncreview.fixes import Rewrite
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import Paired, Prefilter, ProjectSummaries, Report, Rule, Words
from asyncreview.tree import descendants

class _Tables:
    def __init__(self) -> None:
        table = load_table("correctness", "coroutines")
        self.coroutines: Set[str] = set(table["functions"]["names"])
        for owner, methods in table["methods"].items():
            self.coroutines.update(f"{owner}.{method}" for method in methods)
        self.keep_coroutine: Set[str] = set(table["decorators"]["keep-coroutine"])
        self.deliberate: Set[str] = set(table["deliberate"]["comments"])
        self.transparent_bases: Set[str] = set(table["bases"]["transparent"])


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    return _Tables()


class _Frame:
    """A module, class or function being walked: the names it defines and, for a method, the
    name its instance goes by."""

    __slots__ = ("kind", "key", "defs", "receiver", "owner", "instances", "bound_calls", "asynchronous")

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self.asynchronous = False  # an `async def`: a bare call in its body can take `await`
        self.defs: Dict[str, str] = {}  # name -> key of a function or class defined here
        self.receiver = ""  # `self` (or `cls`) in a method
        self.owner = ""  # the method's class key
        self.instances: Dict[str, str] = {}  # local name -> key of this file's class it holds
        self.bound_calls: List["_Candidate"] = []  # `name = call()` in this function


class _Candidate:
    """A call whose result is dropped, with what it may call: a library name, this file's
    function (`@key`), or another module's (a qualified name, for the join)."""

    __slots__ = ("call", "ref", "on_instance", "shown", "bound", "statement", "place", "scope", "awaitable")

    def __init__(self, call: cst.Call, ref: str, on_instance: bool, shown: str, bound: str, statement, place) -> None:
        self.call = call
        self.ref = ref
        self.on_instance = on_instance  # `self.close()`, `client.close()`: a subclass may override it
        self.shown = shown
        self.bound = bound
        self.statement = statement
        self.place = place
        self.scope: Optional[cst.FunctionDef] = None  # for a bound call: the function that may read the name
        self.awaitable = False  # a bare statement of a coroutine's body: the fix is `await` before it


def message(shown: str, bound: str) -> str:
    """Why the dropped call does nothing, and what to write instead."""
    if bound:
        return (f"`{bound} = {shown}(...)` makes a coroutine that nothing awaits, returns or passes "
                f"on: it never runs; `await` it (or hand it to `asyncio.create_task()` and keep the task)")
    return (f"`{shown}(...)` without `await`: the call only makes a coroutine (or another awaitable), "
            f"which is dropped and never runs (Python warns \"was never awaited\" only when it is "
            f"collected); `await` it, or hand it to `asyncio.create_task()` and keep the task")


class NeverAwaited(NestedKeys, Rule):
    codes = ("ARV505",)
    family = "correctness"

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # A coroutine is defined with `async`; a file without one reaches a coroutine only through
        # an import (a library's, or re-exported from another module of the project).
        return Words("async", "import")

    @classmethod
    def report_prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # The project's coroutines are reported in files that say `async`; library calls anywhere.
        return (Words("async"), Paired(mention_pairs(_tables().coroutines)))

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables()
        self.frames: List[_Frame] = [_Frame("module", "")]
        self.kinds: Dict[str, int] = {}  # function key -> 1 when a coroutine function, else 0
        self.classes: Dict[str, List[str]] = {}  # class key -> the names of its bases
        self.rebound: Set[str] = set()  # keys assigned to at module or class level
        self.sync_methods: Set[str] = set()  # method names some class of this file defines sync
        self.top_classes: Set[str] = set()
        self.candidates: List[_Candidate] = []
        self._names_read: Dict[int, List[str]] = {}  # function id -> every name it holds
        self.says_async = False  # the code holds `async` (report_prefilter: only then a project site)

    # -- definitions ---------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        for statement in node.body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self.frames[0].defs[statement.name.value] = statement.name.value
            if isinstance(statement, cst.ClassDef):
                self.top_classes.add(statement.name.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        parent = self.frames[-1]
        key = self._define(node.name.value)
        plain = all(name in self.tables.keep_coroutine for name in self.names.decorators(node))
        kind = 1 if node.asynchronous is not None and plain else 0
        self.says_async = self.says_async or node.asynchronous is not None
        self.kinds[key] = min(kind, self.kinds.get(key, kind))  # defined twice, once sync: not known
        frame = _Frame("function", key)
        frame.asynchronous = node.asynchronous is not None
        if parent.kind == "class":
            if not kind:
                self.sync_methods.add(node.name.value)
            params = [*node.params.posonly_params, *node.params.params]
            if params and "staticmethod" not in {dotted_name(d.decorator) for d in node.decorators}:
                frame.receiver, frame.owner = params[0].name.value, parent.key
        for param in [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]:
            annotation = param.annotation.annotation if param.annotation is not None else None
            held = self._own_class(annotation) if annotation is not None else None
            if held:
                frame.instances[param.name.value] = held
        self.frames.append(frame)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = self.frames.pop()
        for candidate in frame.bound_calls:
            candidate.scope = node
            self.candidates.append(candidate)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        key = self._define(node.name.value)
        self.classes[key] = [dotted_name(base.value.value if isinstance(base.value, cst.Subscript) else base.value) or ""
                             for base in node.bases if base.keyword is None]
        self.frames.append(_Frame("class", key))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(_Frame("lambda", self.frames[-1].key))

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def _own_class(self, node: cst.BaseExpression) -> Optional[str]:
        """The key of this file's class a name (an annotation, a constructor) refers to."""
        if isinstance(node, cst.Name) and node.value in self.top_classes and not self._locally_bound(node.value):
            return node.value
        return None

    def _locally_bound(self, name: str) -> bool:
        """Whether a function being walked binds the name (a parameter, an assignment)."""
        return any(name in scope.bound for scope in self.names.scopes[1:])

    def visit_Await(self, node: cst.Await) -> None:
        self.says_async = True

    def visit_For(self, node: cst.For) -> None:
        self.says_async = self.says_async or node.asynchronous is not None

    def visit_With(self, node: cst.With) -> None:
        self.says_async = self.says_async or node.asynchronous is not None

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.says_async = self.says_async or node.asynchronous is not None

    # -- what is dropped -----------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        frame = self.frames[-1]
        targets = [t.target for t in node.targets]
        if frame.kind in ("module", "class"):
            self.rebound.update(self._child_key(t.value) for t in targets if isinstance(t, cst.Name))
            return
        if frame.kind != "function":
            return
        for target in targets:
            if isinstance(target, cst.Name):
                held = self._own_class(node.value.func) if isinstance(node.value, cst.Call) else None
                if held:
                    frame.instances[target.value] = held
                else:
                    frame.instances.pop(target.value, None)
        if len(targets) == 1 and isinstance(targets[0], cst.Name) and isinstance(node.value, cst.Call):
            candidate = self._candidate(node.value, targets[0].value)
            if candidate is not None:
                frame.bound_calls.append(candidate)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self.frames[-1].kind in ("module", "class") and isinstance(node.target, cst.Name) and node.value is not None:
            self.rebound.add(self._child_key(node.target.value))

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call):
            candidate = self._candidate(node.value, "")
            if candidate is not None:
                candidate.awaitable = self.frames[-1].kind == "function" and self.frames[-1].asynchronous
                self.candidates.append(candidate)

    def _candidate(self, call: cst.Call, bound: str) -> Optional[_Candidate]:
        dotted = dotted_name(call.func)
        if dotted is None:
            return self._chained(call, bound)
        found = self._reference(call.func, dotted)
        if found is None:
            return None
        return _Candidate(call, found[0], found[1], dotted, bound, self.context.statements[-1], self.context.place)

    def _chained(self, call: cst.Call, bound: str) -> Optional[_Candidate]:
        """A library method on what a call returns: `asyncio.get_running_loop().sock_sendall(...)`."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call)):
            return None
        if dotted_name(func.value.func) == "super" and not func.value.args and not self._locally_bound("super"):
            owner = next((frame.owner for frame in reversed(self.frames) if frame.kind == "function"), "")
            if not owner:
                return None
            return _Candidate(call, f"^{owner}.{func.attr.value}", True, f"super().{func.attr.value}", bound,
                              self.context.statements[-1], self.context.place)
        made = self.names.call_result_type(func.value)
        qualified = f"{made}.{func.attr.value}"
        if made is None or qualified not in self.tables.coroutines:
            return None
        return _Candidate(call, qualified, True, qualified, bound, self.context.statements[-1], self.context.place)

    def _reference(self, func: cst.BaseExpression, dotted: str) -> Optional[Tuple[str, bool]]:
        """What a called name may be: a library coroutine's qualified name, `@key` for this
        file's function or method, a qualified name of another module's; None when not known.
        With it, whether the call goes through an instance (`self.close()`, `client.close()`)."""
        head, _, rest = dotted.partition(".")
        shadowed = self._locally_bound(head) and self.names.local_type(head) is None
        qualified = None if shadowed else self.names.qualify(func)
        if qualified in self.tables.coroutines:
            return qualified, True
        for frame in reversed(self.frames):
            if frame.kind == "lambda":
                continue
            if frame.receiver and head == frame.receiver and rest and "." not in rest:
                return f"@{frame.owner}.{rest}", True
            if head in frame.instances and rest and "." not in rest:
                return f"@{frame.instances[head]}.{rest}", True
            if head in frame.defs and frame.kind != "class":
                if frame.kind == "module" and (self._locally_bound(head) or head in self.names.aliases):
                    return None  # a parameter or local of the same name, or an import it may be
                return (f"@{frame.defs[head]}.{rest}" if rest else f"@{frame.defs[head]}"), False
        if qualified and (qualified.startswith(".") or qualified.split(".")[0] not in _STDLIB):
            return qualified, bool(rest)
        return None

    # -- judging -------------------------------------------------------------------------------
    def _local_coroutine(self, key: str, through_instance: bool) -> Union[bool, str, None]:
        """True: this file's coroutine function; False: not one, or not known; a qualified name:
        a method inherited from another module's class, for the join to say; None: not defined
        in this class or its bases of this file."""
        owner, _, member = key.rpartition(".")
        if key in self.classes:
            return False  # a constructor
        if through_instance and member in self.sync_methods:
            return False  # overridden by a sync method somewhere in the file
        if key in self.kinds:
            return key not in self.rebound and self.kinds[key] == 1
        return self._inherited(owner, member, through_instance)

    def _inherited(self, owner: str, member: str, through_instance: bool) -> Union[bool, str, None]:
        """What a class's bases say about a method (as _local_coroutine): `super().close()`, or a
        method the class does not define."""
        if owner not in self.classes:
            return False
        for base in self.classes[owner]:  # in the order of the MRO's first steps
            if base in self.tables.transparent_bases:
                continue
            if base in self.top_classes:
                found = self._local_coroutine(f"{base}.{member}", through_instance)
                if found is not None:
                    return found
                continue
            qualified = self.names.aliases.get(base.split(".")[0])
            if qualified is None:
                return False  # a class of unknown origin may define it
            qualified += base[len(base.split(".")[0]):]
            if qualified in self.tables.transparent_bases:
                continue
            if qualified.startswith(".") or qualified.split(".")[0] not in _STDLIB:
                return f"{qualified}.{member}"
            return False
        return None

    def _read_again(self, candidate: _Candidate) -> bool:
        """Whether the function reads the name a coroutine was bound to (anything but the
        assignment's own target). Asked only of calls found to be coroutines: few."""
        names = self._names_read.get(id(candidate.scope))
        if names is None:
            names = self._names_read[id(candidate.scope)] = [
                n.value for n in descendants(candidate.scope.body) if isinstance(n, cst.Name)]  # type: ignore[union-attr]
        return names.count(candidate.bound) > 1

    def _deliberate(self, lines: List[str]) -> bool:
        """A type checker's own finding silenced on the statement (`# type: ignore[unused-coroutine]`):
        the author knows the coroutine is dropped (pymongo's generated `if _IS_SYNC:` branches)."""
        return any(marker in line for line in lines for marker in self.tables.deliberate)

    def leave_Module(self, node: cst.Module) -> None:
        sites: List[List[Any]] = []
        severity = rule_docs(self.family)["ARV505"].severity
        locator = self.context.locator
        lines = self.context.text.splitlines()
        for candidate in self.candidates:
            ref = candidate.ref
            local = ref[0] in "@^" or ref in self.tables.coroutines
            if ref[0] in "@^":  # this file's function or method; `^`: a base's (`super().close()`)
                owner, _, member = ref[1:].rpartition(".")
                judged = (self._local_coroutine(ref[1:], candidate.on_instance) if ref[0] == "@"
                          else self._inherited(owner, member, through_instance=True))
                if not judged:
                    continue
                if isinstance(judged, str):  # inherited from another module's class
                    ref, local = judged, False
            if not local and (candidate.bound or not self.says_async):
                continue  # another module's coroutine: bare statements where the code says `async` (report_prefilter)
            if candidate.bound and self._read_again(candidate):
                continue
            spot = locator.where(candidate.call, candidate.place)
            statement_at = locator.where(candidate.statement, candidate.place) or spot
            if spot is None or self._deliberate(lines[statement_at.start.line - 1: statement_at.end.line]):
                continue
            if not local:
                text = "\n".join(lines[spot.start.line - 1: min(spot.end.line, spot.start.line + 11)])
                sites.append([ref, spot.start.line, spot.start.column + 1, spot.end.line, spot.end.column + 1,
                              statement_at.start.line, text, candidate.shown, candidate.bound, candidate.awaitable])
            elif "ARV505" in self.context.settings.enabled:
                bare = candidate.call.with_changes(lpar=(), rpar=())  # its range leaves out its parentheses
                fix = Rewrite.safe((candidate.call, cst.Await(bare))) if candidate.awaitable else None
                self.context.reports.append(Report(candidate.call, "ARV505", message(candidate.shown, candidate.bound),
                                                   severity, candidate.statement, "", candidate.place, ref.lstrip("@^"), fix))
        imports = {k: v for k, v in self.names.aliases.items() if v.startswith(".") or v.split(".")[0] not in _STDLIB}
        summary = {"functions": {key: kind for key, kind in self.kinds.items() if key not in self.rebound},
                   "classes": sorted(self.classes), "imports": imports, "sites": sites}
        self.context.summary.setdefault(self.family, {})["awaited"] = summary

    # -- the project join ----------------------------------------------------------------------
    @classmethod
    def project_findings(cls, files: ProjectSummaries, settings: Dict[str, Settings]) -> List[Finding]:
        graph = _Coroutines(files)
        severity = rule_docs(cls.family)["ARV505"].severity
        findings = []
        for path, summary in files.at_hand():
            file_settings = settings.get(path)
            if file_settings is None or "ARV505" not in file_settings.enabled:
                continue
            for site in summary.get("awaited", {}).get("sites", ()):
                ref, line, column, end_line, end_column, stmt_line, text, shown, bound = site[:9]
                target = graph.resolve(path, ref)
                if target is None:
                    continue
                awaitable = len(site) > 9 and site[9]  # a bare statement of a coroutine: `await` goes before the call
                findings.append(Finding(
                    path=path, line=line, column=column, end_line=end_line, end_column=end_column,
                    code="ARV505", severity=severity, message=message(shown, bound),
                    snippet=text, statement_line=stmt_line, kind=ref,
                    fix=Fix(SAFE, [Edit(line, column, line, column, "await ")]) if awaitable else None,
                ))
        return findings


class _Coroutines(Graph):
    """The project's modules as the blocking join reads them, asked for coroutine functions."""

    def __init__(self, files: ProjectSummaries) -> None:
        super().__init__({path: _AwaitedView(files, path) for path in files}, max_depth=0, local_only=False)

    def _member(self, path: str, key: str, hops: int) -> Optional[Tuple[str, str]]:
        view = self.files.get(path)
        summary = view.summary() if view is not None else {}
        functions = summary.get("functions", {})
        if key in functions:
            return (path, key) if functions[key] == 1 else None
        if key in summary.get("classes", ()):
            return None
        head, _, rest = key.partition(".")
        target = summary.get("imports", {}).get(head)
        if target:  # re-exported: `from .client import notify` in a package's __init__.py
            return self.resolve(path, f"{target}.{rest}" if rest else target, hops + 1)
        return None


class _AwaitedView:
    """One file's ARV505 summary, read (and so asked for, when pending) only when needed."""

    __slots__ = ("files", "path")

    def __init__(self, files: ProjectSummaries, path: str) -> None:
        self.files = files
        self.path = path

    def summary(self) -> Dict[str, Any]:
        return self.files[self.path].get("awaited", {})


RULES = [NeverAwaited]
