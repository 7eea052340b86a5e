"""The engine's read-only walk must call visitors exactly as LibCST's own visit does."""

import contextlib
import dataclasses
import gc
import inspect
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import libcst as cst
import pytest

from asyncreview.engine import _Dispatcher
from asyncreview import tree
from asyncreview.tree import LIBCST_CONSTRUCTORS, NODE_TYPES, TRIVIA, collector_paused, inner_children, parse_module

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted([*REPO.glob("asyncreview/**/*.py"), *REPO.glob("fixtures/**/*.py"), *REPO.glob("examples/**/*.py")])
EXTRA = [
    "x = a if b else c\nf(*args, **kw)[1:2, ::3]\nlambda x=1, *y, z, **w: (yield)\n",
    "async def f():\n    async with a as (b, c), d:\n        async for e in g: await h\n    return [i async for i in j if k]\n",
    "match p:\n    case Point(x=0, y=[1, *r]) | {'k': v, **kw} if v:\n        pass\n",
    "try:\n    pass\nexcept* (A, B) as e:\n    raise X from e\nelse:\n    del a[b], c.d\nfinally:\n    global g\n",
    "@d1\n@d2(x)\nclass C(B, metaclass=M):\n    a: int = 1\n    def m[T](self, /, p: T, *, q) -> T: ...\n",
    "f'{a!r:>{b}} {c=}' 'x' 'y'\nx = not -a ** ~b @ c\nwhile (n := n - 1) > 0 < m in s is not t: break\n",
]


def _recorder_class() -> type:
    """A visitor with every hook LibCST knows: visit_/leave_ for each node type and each field."""
    methods = {}

    def hook(event: str, kind: str, field: str):
        return lambda self, node: self.events.append((event, kind, field, id(node)))

    for kind, node_type in vars(cst).items():
        if isinstance(node_type, type) and issubclass(node_type, cst.CSTNode) and dataclasses.is_dataclass(node_type):
            methods[f"visit_{kind}"] = hook("visit", kind, "")
            methods[f"leave_{kind}"] = hook("leave", kind, "")
            for field in dataclasses.fields(node_type):
                methods[f"visit_{kind}_{field.name}"] = hook("visit_field", kind, field.name)
                methods[f"leave_{kind}_{field.name}"] = hook("leave_field", kind, field.name)
    return type("Recorder", (cst.BatchableCSTVisitor,), methods)


Recorder = _recorder_class()


def _plain_recorder_class() -> type:
    """A visitor of everything but trivia, as the built-in rules are, with a few field hooks: one
    on a field that holds only trivia, which the walk must then still read."""
    trivia = {node_type.__name__ for node_type in TRIVIA}
    methods = {name: method for name, method in vars(Recorder).items()
               if name.startswith(("visit_", "leave_")) and name.split("_")[1] not in trivia
               and (name.count("_") == 1 or name in _FIELD_HOOKS)}
    return type("PlainRecorder", (cst.BatchableCSTVisitor,), methods)


_FIELD_HOOKS = {"visit_Call_whitespace_after_func", "leave_Call_args", "visit_FunctionDef_body", "leave_If_orelse",
                "visit_Param_comma"}
PlainRecorder = _plain_recorder_class()


def _events(module: cst.Module, use_libcst: bool, recorder_class: type = Recorder) -> List[Tuple[str, str, str, int]]:
    recorder = recorder_class()
    recorder.events = []
    dispatcher = _Dispatcher([recorder], on_crash=lambda index, error: None)
    if use_libcst:
        module.visit(dispatcher)  # LibCST's own traversal, through the dispatcher's callbacks
    else:
        dispatcher.walk(module)
    return recorder.events


def _check(text: str) -> None:
    module = cst.parse_module(text)
    for recorder_class in (Recorder, PlainRecorder):  # the second lets the walk skip trivia fields
        expected = _events(module, use_libcst=True, recorder_class=recorder_class)
        got = _events(module, use_libcst=False, recorder_class=recorder_class)
        assert len(expected) > 5 and got == expected, recorder_class.__name__


@pytest.mark.parametrize("text", EXTRA)
def test_every_kind_of_node(text):
    _check(text)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_real_files(path):
    _check(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", EXTRA + [p.read_text(encoding="utf-8") for p in SOURCES[:20]])
def test_inner_children_are_libcsts_children_but_trivia(text):
    for node in _all_nodes(cst.parse_module(text)):
        assert inner_children(node) == [child for child in node.children if type(child) not in TRIVIA]


def _all_nodes(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _all_nodes(child)


@pytest.mark.parametrize("path", SOURCES[:40], ids=lambda p: str(p.relative_to(REPO)))
def test_below_trivia_is_only_trivia(path):
    """What the walk passes by (whitespace, comments, operators, punctuation) holds nothing else."""
    for node in _all_nodes(cst.parse_module(path.read_text(encoding="utf-8"))):
        if type(node) in TRIVIA:
            inside = {type(child).__name__ for child in _all_nodes(node) if type(child) not in TRIVIA}
            assert not inside, (type(node).__name__, inside)


@pytest.mark.parametrize("path", SOURCES[:40], ids=lambda p: str(p.relative_to(REPO)))
def test_fields_annotated_as_trivia_hold_only_trivia(path):
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    for node in _all_nodes(module):
        for name in tree.trivia_fields(type(node)):
            value = getattr(node, name)
            for child in value if isinstance(value, (tuple, list)) else [value]:
                assert type(child) in TRIVIA or not isinstance(child, cst.CSTNode), (type(node).__name__, name)
    assert tree.trivia_fields(cst.Call) == {"lpar", "rpar", "whitespace_after_func", "whitespace_before_args"}


def test_ast_depth_counts_every_level_of_pythons_tree():
    import ast

    from asyncreview.source import _ast_depth

    def reference(node):
        return 1 + max((reference(child) for child in ast.iter_child_nodes(node)), default=0)

    trees = []
    for text in EXTRA + [p.read_text(encoding="utf-8") for p in SOURCES]:
        try:
            trees.append(ast.parse(text))
        except SyntaxError:  # newer syntax than this Python's (PEP 695 before 3.12)
            continue
    assert len(trees) > len(SOURCES)
    for tree in trees:
        depth = reference(tree)
        assert _ast_depth(tree, 1000) == depth and _ast_depth(tree, depth - 1) == depth


def test_the_built_in_rules_let_the_walk_pass_trivia_by():
    from asyncreview import plugins
    from asyncreview.config import Settings
    from asyncreview.engine import _Tracker
    from asyncreview.rule import FileContext

    settings = Settings(target=(3, 9), target_origin="test", enabled=frozenset(plugins.all_codes()))
    context = FileContext("x.py", "", settings)
    visitors = [_Tracker(context)] + [rule(context) for rule in plugins.all_rules()]
    assert _Dispatcher(visitors, on_crash=lambda index, error: None).walked == NODE_TYPES - TRIVIA
    assert _Dispatcher([Recorder()], on_crash=lambda index, error: None).walked == NODE_TYPES
    assert _Dispatcher([PlainRecorder()], on_crash=lambda index, error: None).walked == NODE_TYPES - TRIVIA


@pytest.mark.parametrize("text", EXTRA + [p.read_text(encoding="utf-8") for p in SOURCES[:40]])
def test_parsing_without_validation_builds_the_same_tree(text):
    assert parse_module(text).deep_equals(cst.parse_module(text))


@contextlib.contextmanager
def _libcsts_own_constructors():
    quick = {kind: kind.__dict__["__init__"] for kind in LIBCST_CONSTRUCTORS}
    for kind, own in LIBCST_CONSTRUCTORS.items():
        kind.__init__ = own
    try:
        yield
    finally:
        for kind, constructor in quick.items():
            kind.__init__ = constructor


@pytest.fixture
def quick_constructors():
    tree._install_quick_constructors()  # what a process does once it has parsed enough


@pytest.mark.parametrize("text", EXTRA + [p.read_text(encoding="utf-8") for p in SOURCES[:40]])
def test_quick_constructors_build_the_trees_libcsts_own_build(text, quick_constructors):
    quick = parse_module(text)
    assert cst.Name.__init__ is not LIBCST_CONSTRUCTORS[cst.Name]
    with _libcsts_own_constructors():
        own = cst.parse_module(text)
    assert quick.deep_equals(own)


def test_every_node_class_gets_a_quick_constructor_with_libcsts_signature(quick_constructors):
    """A LibCST whose classes no longer look as expected shows here, not as a silent slowdown."""
    public = [k for k in vars(cst).values() if isinstance(k, type) and issubclass(k, cst.CSTNode) and "__init__" in k.__dict__]
    assert len(public) > 150
    for kind in public:
        assert kind in LIBCST_CONSTRUCTORS, kind
        assert inspect.signature(kind.__init__) == inspect.signature(LIBCST_CONSTRUCTORS[kind]), kind


def test_quick_constructors_keep_defaults_fresh_and_arguments_checked(quick_constructors):
    first, second = cst.Add(), cst.Add()
    assert first.whitespace_before.deep_equals(cst.SimpleWhitespace(" ")) and first.whitespace_before is not second.whitespace_before
    assert cst.Name(value="x", lpar=[cst.LeftParen()], rpar=[cst.RightParen()]).deep_equals(cst.parse_expression("(x)"))
    with pytest.raises(TypeError):
        cst.Name()
    with pytest.raises(TypeError):
        cst.Name("x", nope=1)


def test_quick_constructors_validate_except_while_parsing(quick_constructors, monkeypatch):
    checked = []
    monkeypatch.setattr(cst.Name, "_validate", lambda self: checked.append(self.value))
    parse_module("x = y\n")
    assert checked == []
    cst.Name("z")
    assert checked == ["z"]
    monkeypatch.undo()
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def (:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_a_process_compiles_quick_constructors_only_once_it_has_parsed_enough():
    script = (
        "import libcst as cst\n"
        "from asyncreview import tree\n"
        "own = cst.Name.__init__\n"
        "tree.parse_module('x = 1\\n')\n"
        "print(cst.Name.__init__ is own)\n"
        "tree.parse_module('x = 1\\n' * (tree.QUICK_CONSTRUCTORS_AFTER // 6))\n"
        "tree.parse_module('y = 2\\n')\n"
        "print(cst.Name.__init__ is own, tree.LIBCST_CONSTRUCTORS[cst.Name] is own)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "False", "True"], done.stderr


def test_validation_is_back_after_parsing_even_when_parsing_fails():
    parse_module("x = 1\n")
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def (:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # LibCST's own check, for whoever builds nodes after us


@pytest.mark.parametrize("collecting", [True, False])
def test_the_collector_comes_back_as_it_was(collecting):
    (gc.enable if collecting else gc.disable)()
    try:
        with pytest.raises(ZeroDivisionError):
            with collector_paused():
                assert not gc.isenabled()
                1 / 0
        assert gc.isenabled() == collecting
    finally:
        gc.enable()
