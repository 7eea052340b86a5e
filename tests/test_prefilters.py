"""Prefilters decide which files are parsed at all, so each must admit every file its rule could
report in. The rules' examples and fixtures run through them (test_rule_examples.py); here: what
the prefilter forms mean, and every table name in every spelling the name resolver understands."""

import keyword
import re

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from asyncreview.checks.compat import VersionCompat, _tables as compat_tables, _version
from asyncreview.checks.resources import Resources, _tables as resources_tables
from asyncreview.checks.retry import BroadRetry, _tables as retry_tables
from asyncreview.engine import admitted_rules
from asyncreview.names import mention_pairs, returns_table
from asyncreview.plugins import all_rules
from asyncreview.rule import AllOf, Paired, Scanned, Substrings, Words, screen
from asyncreview.testing import findings_for, settings_for

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
