"""The run machinery: the pool survives a worker dying, the prefilter skips files, own source is clean."""

import faulthandler
import os
import re
from pathlib import Path

from hypothesis import given, settings as hypothesis_settings, strategies as st

from asyncreview import pipeline
from asyncreview.config import Overrides
from asyncreview.testing import settings_for
from asyncreview import plugins
from asyncreview.rule import any_word

REPO = Path(__file__).resolve().parent.parent


def test_a_worker_that_dies_costs_only_its_own_file(monkeypatch):
    real = pipeline.analyze

    def dying(data, settings, rules, path=""):
        if b"KILL-THE-WORKER" in data:
            faulthandler.disable()  # keep the test log free of the dying worker's stack dump
            os.abort()  # what a parser segfault looks like from the pool
        return real(data, settings, rules, path)

    monkeypatch.setattr(pipeline, "analyze", dying)  # fork: workers inherit the patch
    monkeypatch.setattr(pipeline, "_INLINE_BYTES", 0)
    settings = settings_for(plugins.all_rules(), target="3.10")
    body = b"import asyncio\nasyncio.timeout\n" + b"x = 1\n" * 200
    work = [(i, f"m{i}.py", body, settings) for i in range(12)]
    work[5] = (5, "m5.py", body + b"# KILL-THE-WORKER\n", settings)
    results = pipeline._analyze_all(work, jobs=2)
    assert sorted(results) == list(range(12))
    assert [f.code for f in results[5].findings] == ["ARV001"]
    assert "parser crashed" in results[5].findings[0].message
    for index in set(range(12)) - {5}:
        assert [f.code for f in results[index].findings] == ["ARV101"]


def test_prefilter_skips_files_that_cannot_match(tmp_path, monkeypatch):
    monkeypatch.setenv("ASYNCREVIEW_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "uses.py").write_text("import asyncio\nasyncio.timeout\n")
    result = pipeline.run(pipeline.RunOptions(paths=[tmp_path], overrides=Overrides(target_version=(3, 10), select=["ARV1"])))
    assert result.parsed == 1
    assert [f.path.endswith("uses.py") for f in result.findings] == [True]


def test_own_source_passes_own_rules(cli):
    result = cli("--no-cache", "asyncreview", "benchmarks", "tests", cwd=REPO)
    assert result.code == 0, result.out
    assert "no findings" in result.out


def test_each_rule_runs_only_on_files_its_own_prefilter_admits():
    from asyncreview.engine import analyze
    from asyncreview.rule import Rule

    started = []

    def rule(name, pattern, joins=False):
        def __init__(self, context):
            Rule.__init__(self, context)
            started.append(name)

        body = {"codes": (f"ARV99{name[-1]}",), "family": name, "__init__": __init__,
                "prefilter": classmethod(lambda cls, settings: pattern)}
        if joins:
            body["project_findings"] = classmethod(lambda cls, files, settings: [])
        return type(name, (Rule,), body)

    rules = [rule("word1", rb"\bapple\b"), rule("word2", rb"\bpear\b"), rule("join3", rb"\bplum\b", joins=True),
             rule("none4", None), rule("either5", (rb"\bkiwi\b", rb"\bapple\b")), rule("either6", (rb"fig", rb"kiwi"))]
    settings = settings_for(rules)
    analyze(b"apple = 1\n", settings, rules)
    # a joining rule and one without a prefilter always run; a tuple admits when any pattern matches
    assert started == ["word1", "join3", "none4", "either5"]


_WORD = st.text(alphabet="abAB_1xyz", min_size=1, max_size=5)


@hypothesis_settings(max_examples=300, deadline=None)
@given(words=st.lists(_WORD, min_size=1, max_size=6), text=st.text(alphabet="abAB_1xyz .(\n", max_size=40),
       whole=st.booleans(), ignore_case=st.booleans())
def test_any_word_matches_exactly_what_the_plain_alternation_matches(words, text, whole, ignore_case):
    """The fast shape of a word prefilter admits the same files as the obvious regex."""
    alternation = "|".join(re.escape(w) for w in words)
    plain = rf"\b(?:{alternation})\b" if whole else f"(?:{alternation})"
    plain_pattern = re.compile(plain.encode(), re.IGNORECASE if ignore_case else 0)
    fast = re.compile(any_word(words, whole=whole, ignore_case=ignore_case))
    data = text.encode()
    assert bool(fast.search(data)) == bool(plain_pattern.search(data)), fast.pattern
