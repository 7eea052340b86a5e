"""asyncreview.locate must give exactly LibCST's PositionProvider positions, node for node."""

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from asyncreview import locate
from asyncreview.locate import Locator, compute_positions

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    [*REPO.glob("asyncreview/**/*.py"), *REPO.glob("fixtures/**/*.py"), *REPO.glob("tests/test_*.py")]
)

AWKWARD = [
    "",
    "x = 1",  # no trailing newline
    "if a:\r\n    b = '''x\r\ny'''\r\n",
    "\ufeffimport os\rprint(os)\r",
    "@dec\n# comment\n@other(1)\n\nasync def f(a, *, b=2) -> int:\n    return await g(a)[b]\n",
    "class C:\n\tdef m(self):\n\t\treturn f'{self!r:>{10}}'\n",
    "x = (1 +\n     2)  ;  y = [\n  3,\n]\n",
    "try:\n    pass\nexcept* ValueError as e:\n    raise\nfinally:\n    pass\n",
    "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'k': v, **kw}:\n        pass\n",
    "x = 1 + \\\n    2\n",
    # members of module-level classes are located on their own
    "class C(B):\n  '''doc\n'''\n  # lead\n  @dec\n  def m(self): return 1; x = 2\n\n  a = b = [\n1]; c = 3\n\n"
    "  class D:\n      async def n(self):\n          await x\n",
    "class E: pass\nclass F:\n\tdef g(self):\n\t\ts = '''\nx'''\n\t\treturn s\n",
    "@dataclass\nclass G(  # why\n    Base,\n):\n    if X:\n        y: int = 0\n    else:\n        z = 1\n",
]


def _same(text: str) -> None:
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    got = compute_positions(module)
    assert len(got) == len(expected)
    for node, where in expected.items():
        assert got[node] == where, (type(node).__name__, where, got[node])


@pytest.mark.parametrize("text", AWKWARD)
def test_awkward_layouts(text):
    _same(text)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_real_files(path):
    _same(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_statement_by_statement_agrees(text):
    _same_through_locator(text)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_statement_by_statement_agrees_on_real_files(path):
    _same_through_locator(path.read_text(encoding="utf-8"))


def _same_through_locator(text: str) -> None:
    """Every node, located through its module-level statement, and every node of a module-level
    class's member, located through that member, is where PositionProvider says."""
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    try:
        tree = ast.parse(text)
    except SyntaxError:  # newer syntax than this interpreter: the locator generates everything
        tree = None
    locator = Locator(module, tree)
    assert (locator.anchors is not None) == (tree is not None)
    members = 0
    for statement in module.body:
        for node in _nodes_below(statement):
            assert locator.where(node, statement) == expected[node], type(node).__name__
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            for member in statement.body.body:
                members += 1
                for node in _nodes_below(member):
                    assert locator.where(node, member) == expected[node], type(node).__name__
                # a node of the class outside the member, asked through the member
                assert locator.where(statement.name, member) == expected[statement.name]
    if tree is not None:  # and none of it came from generating the whole module
        assert len(locator.done) == len(module.body) + members and locate._last[0] is not module


def _nodes_below(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _nodes_below(child)
