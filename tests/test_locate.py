"""asyncreview.locate must give exactly LibCST's PositionProvider positions, node for node."""

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from asyncreview.locate import compute_positions

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
