"""ARV103: each construct of rules/compat/syntax.toml is reported below its version and not from it
on, the table's versions agree with the interpreter running the tests, the prefilter admits every
file that holds a reported construct, and the f-string check follows Python 3.11's own rules."""

import sys
import warnings

import libcst as cst
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from asyncreview.checks.compat import VersionCompat, _syntax_screens, _tables
from asyncreview.checks.fstrings import needs_pep701
from asyncreview.config import parse_version
from asyncreview.engine import admitted_rules
from asyncreview.rule import Scanned, screen
from asyncreview.testing import findings_for, settings_for

SYNTAX = _tables(settings_for([VersionCompat], target="3.9"))["syntax"]


def _before(version: str) -> str:
    major, minor = parse_version(version)
    return f"{major}.{minor - 1}"


def _compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<example>", "exec")
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize("key", sorted(SYNTAX))
def test_each_construct_is_reported_once_below_its_version_and_not_from_it_on(key):
    entry = SYNTAX[key]
    source = entry["example"] + "\n"
    found = findings_for(source, [VersionCompat], target=_before(entry["added"]))
    assert [f.code for f in found] == ["ARV103"]
    assert f"needs Python {entry['added']} ({entry['pep']})" in found[0].message
    assert entry["what"][1:] in found[0].message
    assert findings_for(source, [VersionCompat], target=entry["added"]) == []


def _runs(source: str) -> bool:
    try:
        exec(compile(source, "<example>", "exec"), {})
    except AttributeError:
        return False
    return True


@pytest.mark.parametrize("key", sorted(SYNTAX))
def test_the_running_python_agrees_with_the_table(key):
    # Every version was checked with CPython 3.7-3.13 (benchmarks/README.md); this re-checks the
    # entries on whichever Python runs the tests: it parses exactly what is not newer than itself,
    # and an entry that parses everywhere but means something else before (`effect`) runs as meant.
    entry = SYNTAX[key]
    new_enough = sys.version_info[:2] >= parse_version(entry["added"])
    if "effect" in entry:
        assert _compiles(entry["example"] + "\n") and _runs(entry["example"] + "\n") == new_enough
    else:
        assert _compiles(entry["example"] + "\n") == new_enough


@pytest.mark.parametrize("key", sorted(SYNTAX))
def test_the_prefilter_admits_each_construct_and_only_while_it_can_be_flagged(key):
    entry = SYNTAX[key]
    data = (entry["example"] + "\n").encode()
    below = settings_for([VersionCompat], target=_before(entry["added"]))
    assert admitted_rules(data, (VersionCompat,), below) == (VersionCompat,)
    newest = settings_for([VersionCompat], target="3.14")
    assert admitted_rules(data, (VersionCompat,), newest) == ()


def test_constructs_need_the_newest_version_of_what_they_hold():
    # a default makes type parameters a 3.13 feature; one report, not two
    found = findings_for("type Queue[T = bytes] = list[T]\n", [VersionCompat], target="3.11")
    assert [f.message.split(" needs ")[1][:11] for f in found] == ["Python 3.13"]
    found = findings_for("a[x := 1]\n{y := 2}\n", [VersionCompat], target="3.7")
    assert [f.message.split(" needs ")[1][:11] for f in found] == ["Python 3.10", "Python 3.9 "]


# Verdicts of CPython 3.11 (True: a SyntaxError there) for f-strings 3.12 parses; each also
# compiled with 3.7-3.10 and 3.12-3.13 (the same verdicts before 3.12, none rejected after).
FSTRINGS = [
    ("f'{x['a']}'", True),
    ("f'{\"\\n\".join(a)}'", True),
    ("f'''{x # c\n}'''", True),
    ("f'{x\n+1}'", True),
    ("f\"{f'{f\"{1}\"}'}\"", True),
    ("f'''{f'''{x}'''}'''", True),
    ("f'{x:{y:{z}}}'", True),
    ("f'{\"#\"}'", False),
    ("f'{x:{y}}'", False),
    ("f'{f\"{x}\"}'", False),
    ("f'''{\nx\n}'''", False),
    ("f'''{x['a']}'''", False),
    ("f'{x[\"a\"]}'", False),
    ("f'{x:\\n}'", False),
    ("f'a\\n{x}'", False),
    ("f'{x!r:>{w}} {{}} \\N{DASH} {a!=b} {a<=b}'", False),
    ("f'{ {\"a\": 1}[\"a\"] }'", False),
    ("rf'\\{x}'", False),
]


def _fstrings(source):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_FormattedString(self, node):
            found.append(node)

    cst.parse_module(source).visit(Collect())
    return found


@pytest.mark.parametrize("source, rejected", FSTRINGS)
def test_fstrings_are_judged_as_python_3_11_judges_them(source, rejected):
    assert needs_pep701(_fstrings(source + "\n")[0]) == rejected
    flagged = findings_for(source + "\n", [VersionCompat], target="3.11")
    assert [f.code for f in flagged] == (["ARV103"] if rejected else [])


_EXPRESSIONS = ["x", "x['a']", 'x["a"]', "'#'", "f(a, b)", " x ", "(x\n+1)", "x\n+1", "'\\n'.join(a)", "x  # c\n", " {'a': 1}['a']"]


@st.composite
def _fstring(draw, depth=0):
    """An f-string Python 3.12 parses (checked with CPython 3.12 and 3.13): quotes of any kind
    nested in fields, backslashes, comments, line breaks and format specs two levels deep."""
    quote = draw(st.sampled_from(["'", '"', "'''", '"""']))
    parts = []
    for _ in range(draw(st.integers(1 if depth else 0, 3))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["a", " ", "{{", "}}", "\\n", "\\N{BULLET}"])))
            continue
        nested = depth < 2 and draw(st.booleans())
        expression = draw(_fstring(depth + 1)) if nested else draw(st.sampled_from(_EXPRESSIONS))
        debug = "=" if not expression.endswith("\n") and draw(st.booleans()) else ""
        conversion = draw(st.sampled_from(["", "!r"]))
        spec = draw(st.sampled_from(["", ":>10", ":{w}", ":{w:{v}}", ":{w!r}"]))
        parts.append("{" + expression + debug + conversion + spec + "}")
    return draw(st.sampled_from(["f", "rf", "F"])) + quote + "".join(parts) + quote


def _parsed_fstrings(source):
    try:
        return _fstrings(source + "\n")
    except cst.ParserSyntaxError:
        return []


@hypothesis_settings(max_examples=600, deadline=None)
@given(source=_fstring())
def test_the_prefilter_admits_every_fstring_the_check_reports(source):
    screens = _syntax_screens([SYNTAX["fstring-pep701"]])
    for node in _parsed_fstrings(source):
        if needs_pep701(node):
            assert any(screen(part)(Scanned(source.encode())) for part in screens), source


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a Python with the f-string grammar before PEP 701")
@hypothesis_settings(max_examples=400, deadline=None)
@given(source=_fstring())
def test_the_fstring_check_matches_the_running_python(source):
    outermost = _parsed_fstrings(source)[:1]
    assert outermost, source  # LibCST parses every f-string 3.12 parses
    flagged = any(needs_pep701(node) for node in _parsed_fstrings(source))
    assert flagged == (not _compiles(source + "\n")), source


# Spellings the prefilter's patterns must see through: comments and line breaks inside brackets,
# backslash continuations, odd spacing, raw and upper-case prefixes.
AWKWARD = [
    "def f(a,  # first\n      /): pass",
    "lambda a,\\\n /: a",
    "f'{a = }'",
    "def f():\n    return g(\n        1), *a",
    "def f():\n    yield *a,",
    "x: t = g(\n    1), 2",
    "for a in b:\n    try: pass\n    finally:\n        if a: continue",
    "@ x [0]\ndef f(): pass",
    "class C:\n    @x.y(1)(2)\n    def f(self): pass",
    "with (\n    open(a) as f,\n    open(b),\n): pass",
    "with (\n    open(a),\n    open(b),\n): pass",
    "async def f():\n    async with (a as b, c): pass",
    "for x in f(\n    1), *b: pass",
    "s = {\n    x := 1}",
    "match (x):\n    case _: pass",
    "a[ # c\n  *b]",
    "a[x,\n  y := 1]",
    "def f(*a:  # c\n      *Ts): pass",
    "try: pass\nexcept *E: pass",
    "async def f():\n    return {k: [x async for x in k] for k in w}",
    "type \\\n  X = int",
    "class C \\\n  [T]: pass",
    "def f [T: int = 1](): pass",
    "x = RF'{a[\"b\"]:{c!r:{d}}}'",
    "x = (f'''{a\n}''' f'{b # c\n}')",
    "try: pass\nexcept f(\n    a), B: pass",
    "x = Rt'{a}'",
    "x = f\"a{f'}}\\n'}\"",  # a nested string's brace must not end the field for the screen
    "x = f\"{'}'}{a[\"b\"]}\"",
]


@pytest.mark.parametrize("source", AWKWARD)
def test_awkward_spellings_are_admitted_and_reported(source):
    # Every construct was checked with the CPython of its version (3.7-3.13); findings_for runs the
    # prefilter first, so a spelling the prefilter missed would give no finding.
    assert [f.code for f in findings_for(source + "\n", [VersionCompat], target="3.7")] == ["ARV103"]
