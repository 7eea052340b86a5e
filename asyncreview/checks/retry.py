"""ARV4xx: retry policies that retry on every exception. Retrying a TypeError or a KeyError only
delays the failure and hides the bug; retrying a CancelledError makes a task uncancellable.

Which helpers take which exception argument, what counts as broad and which errors are transient
for each library are data in rules/retry/*.toml; this module reads calls, parameters and
`except` blocks against them."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from asyncreview.catalogue import load_table
from asyncreview.config import Settings
from asyncreview.names import dotted_name, mention_pairs
from asyncreview.rule import AllOf, Paired, Prefilter, Rule, Substrings, Words
from asyncreview.tree import descendants

_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LEAVE = (cst.Return, cst.Raise, cst.Break)
_MAX_DEPTH = 8
_BUGS = "bugs such as TypeError or KeyError"


_KINDS = ("types", "inverted", "predicate", "policy")
_DEFAULTS = ("everything", "nothing", "required")


def _helper(name: str, raw: Any) -> Dict[str, Any]:
    """One user helper entry in the form of rules/retry/helpers.toml, with its defaults."""
    if not isinstance(raw, dict) or not isinstance(raw.get("argument"), str) or not raw["argument"].isidentifier():
        raise ValueError(f'{name!r}: expected a table such as {{argument = "exceptions", kind = "types"}}')
    entry = {
        "argument": raw["argument"],
        "position": raw.get("position", -1),
        "varargs": raw.get("varargs", False),
        "kind": raw.get("kind", "types"),
        "default": raw.get("default", "required"),
        "bare": raw.get("bare", False),
        "library": str(raw.get("library", name.split(".")[0])),
        "fix": str(raw.get("fix", raw["argument"] + "={types}")),
    }
    if entry["kind"] not in _KINDS:
        raise ValueError(f"{name!r}: kind must be one of {', '.join(_KINDS)}")
    if entry["default"] not in _DEFAULTS:
        raise ValueError(f"{name!r}: default must be one of {', '.join(_DEFAULTS)}")
    if not isinstance(entry["position"], int) or isinstance(entry["position"], bool):
        raise ValueError(f"{name!r}: position must be an integer (-1: keyword only)")
    if not isinstance(entry["varargs"], bool) or not isinstance(entry["bare"], bool):
        raise ValueError(f"{name!r}: varargs and bare must be true or false")
    try:
        entry["fix"].format(types="T", types_args="T")
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"{name!r}: fix may only use {{types}} and {{types_args}}") from None
    return entry


def _extend_helpers(value: Any) -> Dict[str, Dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and "." in k for k in value):
        raise ValueError('expected a table such as {"mylib.retrying" = {argument = "exceptions", kind = "types"}}')
    return {name: _helper(name, raw) for name, raw in value.items()}


class _Tables:
    def __init__(self, settings: Optional[Settings]) -> None:
        helpers = load_table("retry", "helpers")
        self.helpers: Dict[str, Dict[str, Any]] = dict(helpers["helpers"])
        extra = settings.option("extend-retry-helpers") if settings is not None else None
        self.helpers.update(extra or {})
        self.keywords: Dict[str, Dict[str, Any]] = helpers["keywords"]
        exceptions = load_table("retry", "exceptions")
        self.broad: Set[str] = set(exceptions["broad"]["names"])
        self.catches_cancel: Set[str] = set(exceptions["broad"]["catches-cancellation"])
        self.cancellation: Set[str] = set(exceptions["cancellation"]["names"])
        self.sleep_suffixes: Tuple[str, ...] = tuple(exceptions["sleep"]["suffixes"])
        self.transient: List[Dict[str, Any]] = exceptions["transient"]
        self.default_transient: List[str] = exceptions["default"]["types"]
        homemade = exceptions["homemade"]
        self.parameters: Set[str] = set(homemade["parameters"])
        self.retry_words: List[str] = homemade["words"]
        self.words = re.compile("|".join(re.escape(w) for w in self.retry_words), re.IGNORECASE)


@functools.lru_cache(maxsize=32)
def _tables(settings: Optional[Settings]) -> _Tables:
    return _Tables(settings)


# -- tree helpers ----------------------------------------------------------------------------------
def _walk(root: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> Iterator[cst.CSTNode]:
    """Nodes under root in this function: nested functions, classes and `skip` are not entered."""
    return descendants(root, _NESTED, skip)


def _leaves(statements: Sequence[cst.CSTNode]) -> bool:
    """Whether a block always leaves the loop: it ends in return/raise/break (or an if/else
    whose branches all do)."""
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return any(isinstance(small, _LEAVE) for small in last.body)
    if isinstance(last, cst.If) and last.orelse is not None:
        other = last.orelse
        other_body = [other] if isinstance(other, cst.If) else list(getattr(other.body, "body", []))
        return _leaves(list(last.body.body)) and _leaves(other_body)
    return False


def _mentions(node: cst.CSTNode, name: str) -> bool:
    return any(isinstance(n, cst.Name) and n.value == name for n in _walk(node))


def _types_text(types: Sequence[str], tuple_form: bool) -> str:
    if tuple_form:
        return types[0] if len(types) == 1 else f"({', '.join(types)})"
    return ", ".join(types)


class _Frame:
    __slots__ = ("node", "is_async", "loops")

    def __init__(self, node: Optional[cst.CSTNode], is_async: bool) -> None:
        self.node = node
        self.is_async = is_async
        self.loops: List[cst.CSTNode] = []


class BroadRetry(Rule):
    codes = ("ARV401", "ARV402", "ARV403", "ARV404")
    family = "retry"
    options = {"extend-retry-helpers": _extend_helpers}

    @classmethod
    def prefilter(cls, settings: Settings) -> Optional[Prefilter]:
        # One alternative per way to report: each names what that check cannot do without.
        tables = _tables(settings)
        broad = Words(*{name.rsplit(".", 1)[-1] for name in tables.broad})
        bare = rb"except(?:\s|\\)*:"
        waits = Substrings(*tables.sleep_suffixes)
        cancels = Words(*{name.rsplit(".", 1)[-1] for name in tables.catches_cancel | tables.cancellation})
        retry_words = Substrings(*tables.retry_words)
        # `_retry_named`: a function or class whose name holds a retry word
        named = tuple(rf"{kind}(?:\s|\\)+[^\s(:\[]*(?i:{tables.words.pattern})".encode() for kind in ("def", "class"))
        return (
            Paired(mention_pairs(tables.helpers)),  # ARV401: a helper
            AllOf(Words(*tables.keywords), broad),  # ARV401: `autoretry_for=(Exception,)`
            AllOf(Words(*tables.parameters), broad, (AllOf(retry_words, named), waits)),  # ARV402
            AllOf(Words("except"), (bare, broad), waits),  # ARV403
            AllOf(Words("async"), Words("except"), (bare, cancels), (waits, retry_words)),  # ARV404
        )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.tables = _tables(context.settings)
        self.constants: Dict[str, cst.BaseExpression] = {}
        self.frames: List[_Frame] = [_Frame(None, False)]
        self.classes: List[cst.ClassDef] = []
        self._suggestion: Optional[List[str]] = None

    # -- module facts --------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        """Module-level constants (`TRANSIENT = (ConnectionError, TimeoutError)`), so a name in a
        policy is judged by what it holds, wherever in the module it is written."""
        for statement in node.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Name):
                        self.constants[target.value] = small.value
                elif isinstance(small, cst.AnnAssign) and small.value is not None and isinstance(small.target, cst.Name):
                    self.constants[small.target.value] = small.value

    def _transient(self) -> List[str]:
        """Transient errors of the libraries this module imports, for the suggested fix."""
        if self._suggestion is None:
            imported = {name.split(".")[0] for name in self.names.aliases.values()}
            chosen: List[str] = []
            for entry in self.tables.transient:
                if imported.intersection(entry["imports"]):
                    chosen.extend(t for t in entry["types"] if t not in chosen)
                if len(chosen) >= 2:
                    break
            self._suggestion = chosen[:3] or list(self.tables.default_transient)
        return self._suggestion

    # -- what an exception expression holds ----------------------------------------------------
    def _resolve(self, node: cst.BaseExpression) -> Optional[str]:
        return self.names.qualify(node) or self.names.builtin(node)

    def _constant(self, node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        if not isinstance(node, cst.Name) or node.value not in self.constants:
            return None
        if any(node.value in scope.bound for scope in self.names.scopes[1:]):
            return None  # a local of the same name hides the module constant
        return self.constants[node.value]

    def _members(self, node: cst.BaseExpression, depth: int = 0) -> Iterator[str]:
        """The qualified names of the exception types an expression lists (as far as we can see)."""
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
            for element in node.elements:
                if isinstance(element, (cst.Element, cst.StarredElement)):
                    yield from self._members(element.value, depth + 1)
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.BitOr)):
            yield from self._members(node.left, depth + 1)
            yield from self._members(node.right, depth + 1)
        elif isinstance(node, cst.Call) and self._resolve(node.func) in ("tuple", "list", "set", "frozenset") and node.args:
            yield from self._members(node.args[0].value, depth + 1)
        else:
            value = self._constant(node)
            if value is not None:
                yield from self._members(value, depth + 1)
                return
            name = self._resolve(node)
            if name:
                yield name

    def _broad(self, node: cst.BaseExpression) -> Optional[str]:
        for name in self._members(node):
            if name in self.tables.broad:
                return name.rsplit(".", 1)[-1]
        return None

    def _cancel_catcher(self, node: Optional[cst.BaseExpression]) -> Optional[str]:
        """What in an except clause catches cancellation: BaseException, CancelledError, or a bare
        `except:` (node None)."""
        if node is None:
            return "a bare `except:`"
        for name in self._members(node):
            if name in self.tables.catches_cancel or name in self.tables.cancellation:
                return f"`{name.split('.', 1)[-1] if name.startswith('builtins.') else name}`"
        return None

    # -- scopes --------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._check_parameters(node)
        self.frames.append(_Frame(node, node.asynchronous is not None))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(_Frame(node, False))

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)
        self.frames.append(_Frame(node, False))
        self._check_fields(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()
        self.frames.pop()

    def visit_For(self, node: cst.For) -> None:
        self.frames[-1].loops.append(node)

    def leave_For(self, node: cst.For) -> None:
        self.frames[-1].loops.pop()

    def visit_While(self, node: cst.While) -> None:
        self.frames[-1].loops.append(node)

    def leave_While(self, node: cst.While) -> None:
        self.frames[-1].loops.pop()

    # -- ARV401: library policies --------------------------------------------------------------
    def visit_Decorator(self, node: cst.Decorator) -> None:
        if isinstance(node.decorator, (cst.Name, cst.Attribute)):
            name = self._resolve(node.decorator)
            entry = self.tables.helpers.get(name or "")
            if entry is not None and entry.get("bare") and entry["default"] == "everything":
                self._report_default(node.decorator, name or "", entry)

    def visit_Call(self, node: cst.Call) -> None:
        name = self._resolve(node.func)
        entry = self.tables.helpers.get(name or "")
        if entry is None:
            self._check_keywords(node)
            return
        argument, splat = self._argument(node, entry)
        if argument is None:
            if not splat and entry["default"] == "everything":
                self._report_default(node, name or "", entry)
            return
        if entry["kind"] == "types":
            broad = next((b for b in (self._broad(a) for a in argument) if b), None)
            if broad:
                self._report(node, name or "", entry, f"retries on `{broad}`")
        elif entry["kind"] == "inverted":
            if len(argument) == 1 and not self._broad(argument[0]):
                spelled = cst.Module([]).code_for_node(argument[0])
                self._report(node, name or "", entry, f"retries on every exception except `{spelled}`")
        elif entry["kind"] == "predicate" and self._always_true(argument[0]):
            self._report(node, name or "", entry, "has a predicate that accepts every exception")

    def _check_keywords(self, node: cst.Call) -> None:
        """`@app.task(autoretry_for=(Exception,))`: keywords that mean the same whatever the callee."""
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in self.tables.keywords:
                keyword = self.tables.keywords[arg.keyword.value]
                broad = self._broad(arg.value)
                if broad:
                    fix = keyword["fix"].format(**self._fix_args())
                    self.report(
                        node,
                        f"`{arg.keyword.value}=` retries on `{broad}` ({keyword['library']}): {_BUGS} are "
                        f"retried and surface late or never; retry only transient errors, e.g. `{fix}`",
                        code="ARV401",
                    )

    def _argument(self, call: cst.Call, entry: Dict[str, Any]) -> Tuple[Optional[List[cst.BaseExpression]], bool]:
        """The expressions passed for the helper's exception argument, and whether `*`/`**`
        splats could be passing it unseen."""
        positional: List[cst.BaseExpression] = []
        splat = False
        for arg in call.args:
            if arg.star:
                splat = True
            elif arg.keyword is None:
                positional.append(arg.value)
            elif arg.keyword.value == entry["argument"]:
                return [arg.value], False
        position = entry["position"]
        if position >= 0 and len(positional) > position:
            return (positional[position:] if entry.get("varargs") else [positional[position]]), False
        return None, splat

    def _always_true(self, node: cst.BaseExpression) -> bool:
        """`lambda e: True` or `lambda e: isinstance(e, Exception)`."""
        if not isinstance(node, cst.Lambda):
            return False
        body = node.body
        if isinstance(body, cst.Name) and body.value == "True":
            return True
        if isinstance(body, cst.Call) and self.names.builtin(body.func) == "isinstance" and len(body.args) == 2:
            return self._broad(body.args[1].value) is not None
        return False

    def _fix_args(self) -> Dict[str, str]:
        types = self._transient()
        return {"types": _types_text(types, True), "types_args": _types_text(types, False)}

    def _report_default(self, node: cst.CSTNode, name: str, entry: Dict[str, Any]) -> None:
        self._report(node, name, entry, f"without `{entry['argument']}=` retries on every exception ({entry['library']}'s default)")

    def _report(self, node: cst.CSTNode, name: str, entry: Dict[str, Any], what: str) -> None:
        fix = entry["fix"].format(**self._fix_args())
        self.report(
            node,
            f"`{name}` {what}: {_BUGS} are retried until the attempts run out and surface late, "
            f"or never; retry only transient errors, e.g. `{fix}`",
            code="ARV401",
        )

    # -- ARV402: home-made helpers -------------------------------------------------------------
    def _retry_named(self, name: str) -> bool:
        return bool(self.tables.words.search(name))

    def _waits_in_loop(self, root: cst.CSTNode) -> bool:
        """Whether a function (nested helpers included) calls a sleep inside a loop."""
        for node in descendants(root):
            if isinstance(node, (cst.For, cst.While)):
                for inner in descendants(node):
                    if isinstance(inner, cst.Call) and self._is_sleep(inner):
                        return True
        return False

    def _is_sleep(self, call: cst.Call) -> bool:
        name = dotted_name(call.func)
        return bool(name) and name.rsplit(".", 1)[-1].lower().endswith(self.tables.sleep_suffixes)  # type: ignore[union-attr]

    def _check_parameters(self, node: cst.FunctionDef) -> None:
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        candidates = [p for p in params if p.name.value in self.tables.parameters and p.default is not None]
        if not candidates:
            return
        owner = self.classes[-1].name.value if self.classes and self.frames[-1].node is self.classes[-1] else ""
        if not (self._retry_named(node.name.value) or self._retry_named(owner) or self._waits_in_loop(node)):
            return
        for param in candidates:
            broad = self._broad(param.default)  # type: ignore[arg-type]
            if broad:
                self._report_helper(param, node.name.value, param.name.value, broad)

    def _check_fields(self, node: cst.ClassDef) -> None:
        """`class RetryPolicy: exceptions: tuple = (Exception,)` - a dataclass/pydantic field."""
        if not self._retry_named(node.name.value):
            return
        for statement in getattr(node.body, "body", []):
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                target, value = None, None
                if isinstance(small, cst.AnnAssign):
                    target, value = small.target, small.value
                elif isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target, value = small.targets[0].target, small.value
                if isinstance(target, cst.Name) and target.value in self.tables.parameters and value is not None:
                    broad = self._broad(value)
                    if broad:
                        self._report_helper(small, node.name.value, target.value, broad)

    def _report_helper(self, node: cst.CSTNode, owner: str, param: str, broad: str) -> None:
        self.report(
            node,
            f"retry helper `{owner}` retries on `{broad}` unless told otherwise (`{param}`): every "
            f"caller that keeps the default retries {_BUGS}; default to transient errors, e.g. "
            f"`{param}={_types_text(self._transient(), True)}`",
            code="ARV402",
        )

    # -- ARV403/ARV404: retry loops --------------------------------------------------------------
    def visit_Try(self, node: cst.Try) -> None:
        frame = self.frames[-1]
        loop = frame.loops[-1] if frame.loops else None
        if loop is None and not isinstance(frame.node, cst.FunctionDef):
            return
        raises_before: List[cst.ExceptHandler] = []
        for handler in node.handlers:
            self._check_handler(node, handler, loop, frame, raises_before)
            if _leaves(list(handler.body.body)):
                raises_before.append(handler)

    def _check_handler(
        self, node: cst.Try, handler: cst.ExceptHandler, loop: Optional[cst.CSTNode], frame: _Frame, earlier: List[cst.ExceptHandler]
    ) -> None:
        body = list(handler.body.body)
        if loop is None:
            # `except Exception: await asyncio.sleep(5); return await self.connect()`: the
            # function retries by calling itself
            if not (self._calls_itself(handler, frame.node) and self._waits(handler.body)):  # type: ignore[arg-type]
                return
        elif _leaves(body):
            return  # the handler gives up: not a retry
        variable = handler.name.name.value if handler.name is not None and isinstance(handler.name.name, cst.Name) else None
        if variable is not None and self._classifies(handler, variable):
            return  # `if not retryable(e): raise` re-raises the non-transient errors
        catcher = self._cancel_catcher(handler.type)
        if catcher and frame.is_async:
            if any(self._cancel_catcher(h.type) for h in earlier):
                return  # `except CancelledError: raise` comes first
            if not self._retries(node, handler, loop, strict=False):
                return
            where = "retry loop in a coroutine" if loop is not None else f"coroutine `{frame.node.name.value}` that calls itself to retry"  # type: ignore[union-attr]
            self.report(
                handler,
                f"{where} catches {catcher} and tries again: asyncio.CancelledError "
                f"is swallowed, so cancelling the task (a timeout, shutdown) restarts the attempt "
                f"instead of stopping it; catch only transient errors, e.g. "
                f"`except {_types_text(self._transient(), True)}:`, or re-raise CancelledError first",
                code="ARV404",
            )
            return
        broad = "BaseException" if handler.type is None else self._broad(handler.type)
        if not broad or earlier:
            return  # narrow, or earlier handlers already re-raise some errors
        if not self._retries(node, handler, loop, strict=True):
            return
        also = " (and KeyboardInterrupt)" if broad == "BaseException" else ""
        where = "retry loop" if loop is not None else f"`{frame.node.name.value}` calls itself to retry: it"  # type: ignore[union-attr]
        self.report(
            handler,
            f"{where} catches `{broad}`{also} and sleeps before trying again without re-raising "
            f"non-transient errors: {_BUGS} are retried and hidden; catch only transient errors, e.g. "
            f"`except {_types_text(self._transient(), True)}:`, or re-raise the others",
            code="ARV403",
        )

    def _classifies(self, handler: cst.ExceptHandler, variable: str) -> bool:
        """A `raise` under a condition that looks at the exception, directly or through a name
        computed from it: `if not transient(e): raise`, `retryable = is_retryable(e)` then
        `if not retryable: raise`, or a raise in the `else:` of such an `if`."""
        derived = {variable}
        for node in _walk(handler.body):
            if isinstance(node, cst.Assign) and any(_mentions(node.value, name) for name in derived):
                derived.update(
                    t.target.value for t in node.targets if isinstance(t.target, cst.Name)
                )
        for node in _walk(handler.body):
            if isinstance(node, cst.If) and any(_mentions(node.test, name) for name in derived):
                if any(isinstance(inner, cst.Raise) for inner in _walk(node)):
                    return True
        return False

    def _calls_itself(self, handler: cst.ExceptHandler, function: cst.FunctionDef) -> bool:
        name = function.name.value
        for node in _walk(handler.body):
            if isinstance(node, cst.Call):
                callee = dotted_name(node.func)
                if callee == name or callee in (f"self.{name}", f"cls.{name}"):
                    return True
        return False

    def _waits(self, root: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> bool:
        return any(isinstance(n, cst.Call) and self._is_sleep(n) for n in _walk(root, skip))

    def _retries(self, node: cst.Try, handler: cst.ExceptHandler, loop: Optional[cst.CSTNode], strict: bool) -> bool:
        """Whether the loop around this try is a retry loop: success leaves it (return/break in the
        try) or it counts attempts; and it sleeps outside the try body (strict), or waits or
        counts (not strict). A function that calls itself from the handler has already been
        judged."""
        if loop is None:
            return True
        exits = any(isinstance(n, cst.Return) for n in _walk(node.body))
        exits = exits or any(isinstance(n, cst.Break) for n in _walk(node.body, _loops_in(node.body)))
        if node.orelse is not None:
            exits = exits or any(isinstance(n, (cst.Return, cst.Break)) for n in _walk(node.orelse, _loops_in(node.orelse)))
        header = loop.target if isinstance(loop, cst.For) else loop.test  # type: ignore[union-attr]
        counted = any(isinstance(n, cst.Name) and self._retry_named(n.value) for n in _walk(header))
        if not (exits or counted):
            return False
        waits = self._waits(handler.body) or self._waits(loop.body, [node])  # type: ignore[attr-defined]
        return waits or (counted and not strict)


def _loops_in(block: cst.CSTNode) -> List[cst.CSTNode]:
    """Loops nested in a try body: a `break` in them leaves them, not the retry loop."""
    return [n for n in _walk(block) if isinstance(n, (cst.For, cst.While)) and n is not block]


RULES = [BroadRetry]
