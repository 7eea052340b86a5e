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
    # statements nested in every kind of block, each block indented its own way
    "async def f():\n  try:\n      x = 1\n  except* E:\n         pass\n  else:\n   # c\n   y = 2\n  finally:\n        z = 3\n"
    "  for a in b:\n    pass\n  else:\n    c = 4\n  while d:\n     break\n  else:\n     e = 5\n"
    "  async with g() as h, i:\n      async for j in h:\n          await j\n"
    "  if k:\n      l = 1\n  elif m:\n      n = 2\n  elif o: p = 3\n  else:\n      q = \\\n        4\n",
    "def outer():\n    @dec\n    def inner():\n        match v:\n            case 1:\n                w = 1; x = 2\n"
    "            case _:\n                  pass\n    return inner\n",
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


_STATEMENTS = (cst.SimpleStatementLine, cst.If, cst.While, cst.For, cst.With, cst.Try, cst.TryStar, cst.Match,
               cst.FunctionDef, cst.ClassDef)


def _places(node: cst.CSTNode, place=()):
    """(statement, the statements around it and itself, outermost first), as the engine keeps them."""
    for child in node.children:
        if isinstance(child, _STATEMENTS):
            inner = place + (child,)
            yield child, inner
            yield from _places(child, inner)
        else:
            yield from _places(child, place)


def _same_through_locator(text: str) -> None:
    """Every node, located through the statements around it, is where PositionProvider says,
    and not one of them needs the whole module generated."""
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    try:
        tree = ast.parse(text)
    except SyntaxError:  # newer syntax than this interpreter: the locator generates everything
        tree = None
    locator = Locator(module, tree)
    assert (locator.twins is not None) == (tree is not None)
    for statement, place in _places(module):
        for node in _nodes_below(statement):
            if isinstance(node, _STATEMENTS) and node is not statement:
                continue  # located through its own place
            assert locator.where(node, place) == expected[node], type(node).__name__
        # a node outside the innermost statement, asked through it: found further out
        assert locator.where(place[0], place) == expected[place[0]]
    if tree is not None:
        assert locate._last[0] is not module


def _nodes_below(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _nodes_below(child)


def test_a_node_deep_in_a_big_function_generates_only_its_own_statement():
    body = "".join(f"    x{i} = call({i})\n" for i in range(200))
    text = f"def big():\n{body}    if x:\n        for y in z:\n            target(y)\n"
    module = cst.parse_module(text)
    locator = Locator(module, ast.parse(text))
    *_, (statement, place) = _places(module)
    call = statement.body[0].value
    assert isinstance(call, cst.Call)
    assert locator.where(call, place).start.line == 204
    assert list(locator.done) == [statement]
