"""Prefilters decide which files are parsed at all, so each must admit every file its rule could
report in. The rules' examples and fixtures run through them (test_rule_examples.py); here: what
the prefilter forms mean, and every table name in every spelling the name resolver understands."""

import ast
import keyword
import re

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from asyncreview.checks.cleanup import CleanupAndResults, _tables as cleanup_tables
from asyncreview.checks.correctness import CoroutineCorrectness, _tables as correctness_tables
from asyncreview.checks.compat import VersionCompat, _tables as compat_tables, _version
from asyncreview.checks.loop_compat import ChangedBehaviour, _changed
from asyncreview.checks.resources import Resources, _tables as resources_tables
from asyncreview.checks.retry import BroadRetry, _tables as retry_tables
from asyncreview.checks.structured import StructuredConcurrency, _tables as structured_tables
from asyncreview.engine import admitted_rules
from asyncreview.names import mention_pairs, returns_table
from asyncreview.plugins import all_rules
from asyncreview.rule import AllOf, Paired, Scanned, Substrings, Words, screen
from asyncreview.testing import findings_for, fixture_outcome, settings_for
from conftest import REPO

_WORD = st.sampled_from(["ab", "b", "ba", "x_1", "A", "aB"])


@hypothesis_settings(max_examples=300, deadline=None)
@given(pairs=st.dictionaries(_WORD, st.sets(_WORD, min_size=1, max_size=3), max_size=4),
       text=st.lists(st.sampled_from(["ab", "b", "ba", "x_1", "A", "aB", " ", ".", "\n", "x", "_"]), max_size=12))
def test_paired_admits_exactly_a_word_with_one_of_its_companions(pairs, text):
    data = "".join(text).encode()
    written = set(re.findall(rb"\w+", data))
    expected = any(word.encode() in written and any(c.encode() in written for c in companions)
                   for word, companions in pairs.items())
    assert screen(Paired(pairs))(Scanned(data)) == expected


def test_all_of_needs_every_part_and_a_tuple_any():
    both = screen(AllOf(Words("except"), (rb"sleep", Substrings("Backoff"))))
    assert both(Scanned(b"try: x()\nexcept E: time.sleep(1)"))
    assert both(Scanned(b"except E: BACKOFF()"))
    assert not both(Scanned(b"time.sleep(1)"))
    assert not both(Scanned(b"except E: pass"))
    assert not both(Scanned(b"excepted: sleep"))  # a whole word


@hypothesis_settings(max_examples=300, deadline=None)
@given(words=st.lists(_WORD, min_size=1, max_size=4), data=st.binary(max_size=40) | st.text(alphabet="abAB_1x .\n\xe9", max_size=40).map(str.encode))
def test_words_admit_exactly_what_a_whole_word_regex_finds(words, data):
    plain = re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in words) + rb")\b")
    assert screen(Words(*words))(Scanned(data)) == bool(plain.search(data))
    lowered = re.compile(b"|".join(re.escape(w.encode()) for w in words), re.IGNORECASE)
    assert screen(Substrings(*words))(Scanned(data)) == bool(lowered.search(data))


def _spellings(name, seen=()):
    """Ways code names `name` that the resolver turns back into it: imports of every shape, and
    the result of a call the returns table knows (`open(p).read` is io.TextIOWrapper.read)."""
    seen = (*seen, name)
    module, _, last = name.rpartition(".")
    if not module:
        yield f"{name}(x)\n"
        return
    root = name.split(".")[0]
    yield f"import {root}\n{name}(x)\n"
    yield f"from {module} import {last}\n{last}(x)\n"
    yield f"from {module} import {last} as other\nother(x)\n"
    yield f"import {module} as m\nm.{last}(x)\n"
    if len(seen) > 3:  # `Path.cwd().resolve().with_suffix(".x").open()`: deeper chains repeat the same words
        return
    for call, result in returns_table().items():
        if call in seen:
            continue
        if name == result:
            yield from (f"{spelled.rstrip()}(y)\n" for spelled in _spellings(call, seen))
        elif name.startswith(result + "."):
            rest = name[len(result) + 1:]
            yield from (f"{spelled.rstrip()}.{rest}(y)\n" for spelled in _spellings(call, seen))


def _compat_names(settings):
    tables = compat_tables(settings)
    for section in ("api", "builtin"):
        yield from (name for name, entry in tables[section].items() if _version(entry) > settings.target)
    yield from (name for name, entry in tables["removed"].items() if settings.newest >= _version(entry, "removed"))


def _table_names():
    settings = settings_for([VersionCompat], target="3.8")
    for name in _compat_names(settings):
        yield VersionCompat, "3.8", name
    tables = resources_tables(settings_for([Resources]))
    for name in sorted({*tables.constructors, *tables.spawners}):
        yield Resources, "3.9", name
    for name in sorted(retry_tables(None).helpers):
        yield BroadRetry, "3.9", name


def test_a_name_ending_in_a_keyword_cannot_be_written_so_no_prefilter_needs_it():
    assert "async" not in mention_pairs(["asyncio.async"])
    # parsed (ARV2 reads every file that imports), it is a syntax error for LibCST as for Python
    assert [f.code for f in findings_for("import asyncio\nasyncio.async(coro)\n", all_rules(), target="3.6")] == ["ARV001"]


@pytest.mark.parametrize("rule, target, name", [entry for entry in _table_names() if not keyword.iskeyword(entry[2].rsplit(".", 1)[-1])],
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_every_table_name_passes_its_rule_prefilter_however_it_is_written(rule, target, name):
    settings = settings_for([rule], target=target)
    for source in _spellings(name):
        assert admitted_rules(source.encode(), (rule,), settings) == (rule,), source


# Every ARV5xx check needs a coroutine, and ARV502 a `with`: each table name, however it is
# written, is admitted inside one.
_IN_A_COROUTINE = "async def run(item):\n    with item:\n        pass\n"


@pytest.mark.parametrize("name", sorted({*correctness_tables().thread_locks, *correctness_tables().runner_calls,
                                         *correctness_tables().loop_getters}))
def test_every_correctness_table_name_passes_its_prefilter_in_a_coroutine(name):
    settings = settings_for([CoroutineCorrectness])
    for source in _spellings(name):
        assert admitted_rules((_IN_A_COROUTINE + source).encode(), (CoroutineCorrectness,), settings) == (CoroutineCorrectness,), source
    # and not without the coroutine: the promise is tight
    assert admitted_rules(f"import asyncio, threading\n{name}(x)\n".encode(), (CoroutineCorrectness,), settings) == ()


def test_correctness_handlers_need_a_catcher_of_cancellation():
    settings = settings_for([CoroutineCorrectness])
    admits = lambda text: admitted_rules(text.encode(), (CoroutineCorrectness,), settings) == (CoroutineCorrectness,)  # noqa: E731
    assert admits("async def f():\n    try:\n        await g()\n    except:\n        pass\n")
    assert admits("async def f():\n    try:\n        await g()\n    except* CancelledError:\n        pass\n")
    assert admits("async def f():\n    try:\n        await g()\n    finally:\n        return 1\n")
    assert not admits("async def f():\n    try:\n        await g()\n    except ValueError:\n        pass\n")
    assert admits("async def f(loop):\n    loop.run_until_complete(g())\n")


# ARV509-511: each needs an `await` in a coroutine; the cleanup calls, gather and wait are
# admitted however they are written, and the cleanup rule needs a place for cleanup.
def _admits_cleanup(text):
    return admitted_rules(text.encode(), (CleanupAndResults,), settings_for([CleanupAndResults])) == (CleanupAndResults,)


@pytest.mark.parametrize("name", sorted(cleanup_tables().cleanup_calls))
def test_every_cleanup_function_passes_the_prefilter_in_a_finally_however_it_is_written(name):
    for source in _spellings(name):
        assert _admits_cleanup("async def f(x):\n    try:\n        await x\n    finally:\n        pass\n" + source), source
        assert not _admits_cleanup("def f(x):\n    try:\n        x()\n    finally:\n        pass\n" + source), source


@pytest.mark.parametrize("method", sorted(cleanup_tables().cleanup_methods))
def test_every_cleanup_method_passes_in_finally_except_and_aexit(method):
    for place in ("try:\n        pass\n    finally:", "try:\n        pass\n    except:", "if __aexit__:"):
        assert _admits_cleanup(f"async def f(x):\n    await x\n    {place}\n        x.{method}()\n")
    assert not _admits_cleanup(f"async def f(x):\n    await x\n    x.{method}()\n")  # no place for cleanup


@pytest.mark.parametrize("name", sorted({*cleanup_tables().gather_calls, *cleanup_tables().wait_calls}))
def test_gather_and_wait_pass_the_prefilter_however_they_are_written(name):
    for source in _spellings(name):
        call = source.replace("(x)", "(x, return_exceptions=True)")
        assert _admits_cleanup(f"async def f():\n    await g()\n{call}"), call


def test_gather_needs_return_exceptions_to_pass():
    assert not _admits_cleanup("import asyncio\nasync def f(x):\n    await asyncio.gather(x)\n")


def test_sequential_awaits_need_a_loop_or_a_comprehension():
    assert _admits_cleanup("async def f(ids):\n    return [await g(i) for i in ids]\n")
    assert not _admits_cleanup("async def f(ids):\n    return await g(ids)\n")


def test_a_returned_type_is_written_with_the_call_that_returns_it():
    pairs = mention_pairs(["requests.Session", "io.TextIOWrapper.read"])
    assert pairs["session"] == {"requests"}  # requests.session() returns a requests.Session
    assert {"io", "open", "pathlib", "os"} <= pairs["read"]  # open(p).read()


def test_a_word_alone_does_not_admit_but_the_name_does():
    settings = settings_for([Resources])
    assert admitted_rules(b"session = make()\nsession.get(url)\n", (Resources,), settings) == ()
    assert admitted_rules(b"import requests\nsession = requests.session()\n", (Resources,), settings) == (Resources,)
    assert [f.code for f in findings_for("import requests\n\ndef f():\n    requests.session()\n", [Resources])] == ["ARV301"]


def test_compat_admits_only_what_the_target_and_newest_python_can_flag():
    source = b"import asyncio\n\ndef deadline():\n    return asyncio.timeout(1)\n"
    assert admitted_rules(source, (VersionCompat,), settings_for([VersionCompat], target="3.10")) == (VersionCompat,)
    assert admitted_rules(source, (VersionCompat,), settings_for([VersionCompat], target="3.11")) == ()
    removed = b"import asyncio\n\n@asyncio.coroutine\ndef f():\n    pass\n"
    assert admitted_rules(removed, (VersionCompat,), settings_for([VersionCompat], target="3.9", newest="3.10")) == ()
    assert admitted_rules(removed, (VersionCompat,), settings_for([VersionCompat], target="3.9", newest="3.11")) == (VersionCompat,)


def test_compat_keywords_need_the_keyword_and_the_call():
    settings = settings_for([VersionCompat], target="3.9")
    assert admitted_rules(b"import asyncio\nasyncio.wait_for(x, 1, loop=loop)\n", (VersionCompat,), settings) == (VersionCompat,)
    assert admitted_rules(b"import asyncio\nmake(loop=loop)\n", (VersionCompat,), settings) == ()


def test_retry_checks_each_need_their_own_words():
    settings = settings_for([BroadRetry])
    admits = lambda text: admitted_rules(text.encode(), (BroadRetry,), settings) == (BroadRetry,)
    assert admits("from tenacity import retry\n")
    assert admits("app.task(autoretry_for=(Exception,))\n")
    assert not admits("app.task(autoretry_for=(ConnectionError,))\n")
    assert admits("def with_retry(fn, exceptions=(Exception,)):\n    return fn\n")
    assert not admits("def handle(fn, exceptions=(Exception,)):\n    return fn\n")
    assert admits("while True:\n    try:\n        return f()\n    except Exception:\n        time.sleep(1)\n")
    assert not admits("while True:\n    try:\n        return f()\n    except Exception:\n        pass\n")
    assert admits("async def f():\n    for attempt in range(3):\n        try:\n            return await g()\n        except BaseException:\n            pass\n")


# -- the code screen: the same prefilters on the names the syntax tree holds ---------------------

def _code_admits(source, rules, settings):
    return admitted_rules(source.encode(), rules, settings, tree=ast.parse(source))


@pytest.mark.parametrize("rule, target, name", [entry for entry in _table_names() if not keyword.iskeyword(entry[2].rsplit(".", 1)[-1])],
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_every_table_name_passes_the_code_screen_however_it_is_written(rule, target, name):
    settings = settings_for([rule], target=target)
    for source in _spellings(name):
        assert _code_admits(source, (rule,), settings) == (rule,), source


def test_names_in_strings_comments_and_docstrings_do_not_pass_the_code_screen():
    settings = settings_for([Resources])
    for source in ('MODES = {"open": 1, "io": 2}\n', '"""Use io.open or open()."""\n', "x = 1  # open() io\n",
                   'def f():\n    return f"{x} open io"\n'):
        assert admitted_rules(source.encode(), (Resources,), settings) == (Resources,), source  # the words are there
        assert _code_admits(source, (Resources,), settings) == (), source


def test_names_in_every_kind_of_code_pass_the_code_screen():
    settings = settings_for([Resources])
    for source in ("import io\nio.open(p)\n", "from io import open as o\n", "def f(open=io): pass\n",
                   "g(open=1, io=2)\n", "class open(io): pass\n", "try:\n    pass\nexcept io as open:\n    pass\n",
                   "x = [open for io in y]\n", "def f():\n    global open, io\n",
                   "match x:\n    case io.open(): pass\n", "f'{io.open(p)}'\n", "x: 'int' = io.open\n"):
        assert _code_admits(source, (Resources,), settings) == (Resources,), source


def test_keywords_stay_in_the_code_screen_for_the_rules_that_need_them():
    settings = settings_for([BroadRetry])
    source = "import asyncio\n\nasync def f():\n    while True:\n        try:\n            return await g()\n        except:\n            await asyncio.sleep(1)\n"
    assert _code_admits(source, (BroadRetry,), settings) == (BroadRetry,)


def test_a_generated_module_that_says_open_only_in_its_data_is_not_parsed(monkeypatch):
    import asyncreview.engine as engine

    rows = "".join(f'    "action_{n}": {{"state": "open", "doc": "io.open the file"}},\n' for n in range(2000))
    source = f"import io\n\nTABLE = {{\n{rows}}}\n"
    settings = settings_for(all_rules())
    analyze = lambda text: engine.analyze(text.encode(), settings, all_rules(), defer_summaries=True)
    monkeypatch.setattr(engine, "CODE_SCREEN", False)  # the code screen off
    assert analyze(source).parsed
    monkeypatch.setattr(engine, "CODE_SCREEN", True)
    assert analyze(source).pending and not analyze(source).parsed  # only a join could want it
    called = source + "\n\ndef load(p):\n    return io.open(p).read()\n"
    result = analyze(called)
    assert result.parsed and [f.code for f in result.findings] == ["ARV301"]


def test_the_code_screen_loses_no_finding_on_any_fixture_or_documented_example(monkeypatch):
    """Every fixture file and every catalogue example, analyzed with the code screen and without:
    the same findings."""
    import asyncreview.engine as engine
    from asyncreview.catalogue import rule_docs
    from asyncreview.testing import example_outcome

    def outcomes():
        found = []
        for path in sorted((REPO / "fixtures").glob("*/*.py")):
            found.append((path.name, fixture_outcome(path, all_rules())[1]))
        for rule in all_rules():
            for doc in rule_docs(rule.family).values():
                for example in doc.examples:
                    found.append((doc.code, example_outcome(example, all_rules())[1]))
        return found

    monkeypatch.setattr(engine, "CODE_SCREEN", False)
    without = outcomes()
    monkeypatch.setattr(engine, "CODE_SCREEN", True)
    assert outcomes() == without
    assert sum(len(found) for _, found in without) > 100  # the comparison saw findings


@pytest.mark.parametrize("name", sorted(_changed()))
def test_every_changed_behaviour_name_passes_its_prefilter_however_it_is_written(name):
    settings = settings_for([ChangedBehaviour], target="3.9")
    for source in _spellings(name):
        assert admitted_rules(source.encode(), (ChangedBehaviour,), settings) == (ChangedBehaviour,), source
    # and not where no supported Python warns: the promise is tight
    quiet = settings_for([ChangedBehaviour], target="3.8", newest="3.9")
    assert admitted_rules(f"import asyncio\n{name}(x)\n".encode(), (ChangedBehaviour,), quiet) == ()


@pytest.mark.parametrize("name", sorted(structured_tables().timeouts))
def test_every_timeout_passes_the_structured_prefilter_with_a_with(name):
    """ARV507 needs a `with` and a timeout of the table, however it is imported; ARV506 a yield."""
    settings = settings_for([StructuredConcurrency])
    for source in _spellings(name):
        assert admitted_rules(("with x:\n    pass\n" + source).encode(), (StructuredConcurrency,), settings) == (StructuredConcurrency,), source
    assert admitted_rules(f"import asyncio, trio, anyio\n{name}(x)\n".encode(), (StructuredConcurrency,), settings) == ()
    assert admitted_rules(b"async def f(lock):\n    async with lock:\n        yield 1\n", (StructuredConcurrency,), settings)


# ARV505 reports library calls anywhere: each table name, however it is written, passes the rule's
# prefilter and its report_prefilter (raw and on the code's names), and is then flagged.
from asyncreview.checks.awaited import NeverAwaited, _tables as awaited_tables  # noqa: E402


@pytest.mark.parametrize("name", sorted(awaited_tables().coroutines))
def test_every_awaited_table_name_passes_both_prefilters_and_is_flagged(name):
    settings = settings_for([NeverAwaited])
    reports = screen(NeverAwaited.report_prefilter(settings))
    for source in _spellings(name):
        assert admitted_rules(source.encode(), (NeverAwaited,), settings) == (NeverAwaited,), source
        assert _code_admits(source, (NeverAwaited,), settings) == (NeverAwaited,), source
        assert reports(Scanned(source.encode())), source
        assert reports(Scanned(source.encode()).in_code(ast.parse(source))), source
        assert [f.code for f in findings_for(source, [NeverAwaited])] == ["ARV505"], source


def test_awaited_reports_the_projects_coroutines_only_where_the_code_says_async():
    settings = settings_for([NeverAwaited])
    reports = screen(NeverAwaited.report_prefilter(settings))
    sync_only = "from app.client import notify\n\ndef main():\n    notify(1)\n"
    assert not reports(Scanned(sync_only.encode()))
    assert reports(Scanned((sync_only + "\nasync def g():\n    pass\n").encode()))
    # parsed for another rule, the file still reports nothing (tests/test_awaited.py, scripts.py)
