"""The run machinery: the pool survives a worker dying, the prefilter skips files, own source is clean."""

import contextlib
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncreview import pipeline
from asyncreview.config import Overrides
from asyncreview.engine import FileResult
from asyncreview.testing import settings_for
from asyncreview import plugins

REPO = Path(__file__).resolve().parent.parent


def test_a_worker_that_dies_costs_only_its_own_file(monkeypatch):
    real = pipeline.analyze

    def dying(data, settings, rules, path="", defer_summaries=False):
        if b"KILL-THE-WORKER" in data:
            faulthandler.disable()  # keep the test log free of the dying worker's stack dump
            os.abort()  # what a parser segfault looks like from the pool
        return real(data, settings, rules, path, defer_summaries)

    monkeypatch.setattr(pipeline, "analyze", dying)  # fork: workers inherit the patch
    monkeypatch.setattr(pipeline, "_INLINE_BYTES", 0)
    settings = settings_for(plugins.all_rules(), target="3.10")
    body = b"import asyncio\nasyncio.timeout\n" + b"x = 1\n" * 200
    work = [(i, f"m{i}.py", body, settings) for i in range(12)]
    work[5] = (5, "m5.py", body + b"# KILL-THE-WORKER\n", settings)
    with pipeline._Workers(2) as workers:
        results = workers.analyze(work)
    assert sorted(results) == list(range(12))
    assert [f.code for f in results[5].findings] == ["ARV001"]
    assert "parser crashed" in results[5].findings[0].message
    for index in set(range(12)) - {5}:
        assert [f.code for f in results[index].findings] == ["ARV101"]


_FIRST_FILES = """
import os, sys
from asyncreview import pipeline, plugins, tree
from asyncreview.testing import settings_for

real = pipeline.analyze

def noting(data, settings, rules, path="", defer_summaries=False):
    result = real(data, settings, rules, path, defer_summaries)
    result.summary = {"quick": bool(tree._quick_constructors), "pid": os.getpid()}
    return result

pipeline.analyze = noting  # fork: workers inherit the patch
pipeline._INLINE_BYTES = 0
settings = settings_for(plugins.all_rules(), target="3.10")
body = b"import asyncio\\nasyncio.timeout\\n" + b"x = 1\\n" * 10_000  # 60 KB a file
files = int(sys.argv[1])
with pipeline._Workers(2) as workers:
    results = workers.analyze([(i, f"m{i}.py", body, settings) for i in range(files)])
first = {}
for index in sorted(results):  # a worker takes its batches in order
    first.setdefault(results[index].summary["pid"], results[index].summary["quick"])
print(os.getpid() not in first, *sorted(set(first.values())))
"""


def test_pool_workers_with_a_big_share_build_quick_nodes_from_their_first_file():
    from asyncreview import tree

    big = 2 * tree.QUICK_CONSTRUCTORS_AFTER // 60_000 + 4
    for files, expected in ((big, "True True"), (4, "True False")):  # (in workers, quick at first file)
        done = subprocess.run([sys.executable, "-c", _FIRST_FILES, str(files)], capture_output=True, text=True, timeout=300)
        assert done.stdout.strip() == expected, (files, done.stdout, done.stderr[-2000:])


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


def test_a_file_only_a_join_could_need_is_checked_but_not_parsed():
    from asyncreview.engine import analyze

    rules = plugins.all_rules()
    settings = settings_for(rules, target="3.9")
    helper = b"import time\n\ndef nap():\n    time.sleep(1)\n"
    pending = analyze(helper, settings, rules, "helper.py", defer_summaries=True)
    assert (pending.pending, pending.parsed, pending.findings, pending.summary) == (True, False, [], {})
    full = analyze(helper, settings, rules, "helper.py")
    assert (full.pending, full.parsed) == (False, True) and full.summary["blocking"]["direct"]
    # A coroutine, another rule's word (asyncio.timeout is 3.11+), or a broken file: as before.
    for data in (b"async def main():\n    pass\n", b"import asyncio\n\ndef f():\n    return asyncio.timeout(1)\n",
                 b"def f(:\n", b"def f():\n    return " + b"(" * 300 + b")" * 300 + b"\n", b"\xff\xfe def f(): pass\n"):
        deferred = analyze(data, settings, rules, "x.py", defer_summaries=True)
        assert not deferred.pending
        assert deferred.to_json() == analyze(data, settings, rules, "x.py").to_json(), data[:40]
    # The pending mark survives the cache.
    assert FileResult.from_json(json.loads(json.dumps(pending.to_json()))).pending


def test_a_join_that_reads_a_pending_summary_gets_it_and_runs_again(tmp_path, monkeypatch):
    """A plugin's join that reads every summary (items()) sees every file's, as it would if all
    were parsed; the last of its runs is the one returned."""
    from asyncreview.rule import ProjectSummaries, Rule

    seen = []

    class Everything(Rule):
        codes = ("ARV998",)
        family = "everything"

        @classmethod
        def prefilter(cls, settings):
            return rb"\bdef\b"

        @classmethod
        def report_prefilter(cls, settings):
            return rb"\basync\b"

        def leave_Module(self, node):
            self.context.summary[self.family] = {"defs": self.context.text.count("def ")}

        @classmethod
        def project_findings(cls, files, settings):
            assert isinstance(files, ProjectSummaries)
            seen.append(({path: summary for path, summary in files.at_hand()}, dict(files.items())))
            return []

    monkeypatch.setattr(plugins, "all_rules", lambda: [Everything])
    monkeypatch.setattr(plugins, "all_codes", lambda: ("ARV998",))
    monkeypatch.setenv("ASYNCREVIEW_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a.py").write_text("async def a():\n    pass\n")
    (tmp_path / "b.py").write_text("def b():\n    pass\ndef c():\n    pass\n")
    result = pipeline.run(pipeline.RunOptions(paths=[tmp_path], use_cache=False, jobs=1))
    assert result.parsed == 2
    first, last = seen
    assert [Path(p).name for p in first[0]] == ["a.py"] and {Path(p).name: s for p, s in first[1].items()} == {"a.py": {"defs": 1}, "b.py": {}}
    assert {Path(p).name: s for p, s in last[1].items()} == {"a.py": {"defs": 1}, "b.py": {"defs": 2}} == {Path(p).name: s for p, s in last[0].items()}


def test_project_summaries_ask_only_for_the_pending_files_read():
    from asyncreview.rule import ProjectSummaries

    files = ProjectSummaries(["a.py", "b.py", "c.py"], {"a.py": {"x": 1}, "c.py": {}}, pending=["b.py"])
    assert list(files) == ["a.py", "b.py", "c.py"] and "b.py" in files and "d.py" not in files
    assert list(files.at_hand()) == [("a.py", {"x": 1}), ("c.py", {})] and files.wanted == set()
    assert files.get("a.py") == {"x": 1} and files.get("d.py") is None and files.wanted == set()
    assert files["b.py"] == {} and files.wanted == {"b.py"}


def test_early_joins_send_the_pending_files_they_read_to_the_pool():
    """_Prefetch: a join at a mark reads what it can; a pending file it reads is analyzed in full
    at once, one not analyzed yet as soon as it comes back pending."""
    from asyncreview.engine import analyze

    rules = plugins.all_rules()
    settings = settings_for(rules, target="3.9")
    sources = {
        "a.py": b"from b import helper\n\nasync def main():\n    helper()\n",
        "b.py": b"from c import nap\n\ndef helper():\n    nap()\n",
        "c.py": b"import time\n\ndef nap():\n    time.sleep(1)\n",
        "d.py": b"async def other():\n    pass\n",
    }
    work = [(index, name, data, settings) for index, (name, data) in enumerate(sources.items())]
    deferred = {index: analyze(data, settings, rules, name, True) for index, name, data, _ in work}
    full = {index: analyze(data, settings, rules, name) for index, name, data, _ in work}
    assert [deferred[i].pending for i in range(4)] == [False, True, True, False]

    index_of = {name: index for index, name in enumerate(sources)}
    prefetch = pipeline._Prefetch(rules, index_of, {name: settings for name in sources}, {}, {item[0]: item for item in work})
    prefetch.marks = [2, 3]  # join when 2 and 3 files are in
    assert prefetch({0: deferred[0]}) == []  # no mark reached: no join yet
    assert prefetch({1: deferred[1]}) == [work[1]]  # main() calls helper() in b.py: pending, read
    assert prefetch({1: full[1]}) == []  # b.py in full: no new mark
    assert prefetch({3: deferred[3]}) == [] and prefetch.asked == {2}  # helper() calls c.py: not in yet
    assert prefetch({2: deferred[2]}) == [work[2]]  # it comes back pending: sent, with no join
    assert prefetch({2: deferred[2]}) == [] and prefetch.sent == {1, 2}  # and only once


def test_a_chain_through_pending_modules_is_found_with_a_pool_as_without(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "_INLINE_BYTES", 0)
    monkeypatch.setattr(pipeline._Prefetch, "MARKS", (0.3, 0.6, 1.0))
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.9"\n')
    (tmp_path / "a.py").write_text("from b import helper\n\nasync def main():\n    helper()\n")
    (tmp_path / "b.py").write_text("from c import nap\n\ndef helper():\n    nap()\n")
    (tmp_path / "c.py").write_text("import time\n\ndef nap():\n    time.sleep(1)\n")
    for index in range(20):  # files enough for the early joins to have something to read
        (tmp_path / f"m{index}.py").write_text(f"def f{index}():\n    return {index}\n" * 50)
    runs = [pipeline.run(pipeline.RunOptions(paths=[tmp_path], use_cache=False, jobs=jobs)) for jobs in (1, 2)]
    assert [[(Path(f.path).name, f.line, f.code) for f in run.findings] for run in runs] == [[("a.py", 4, "ARV202")]] * 2
    assert "c.py:4" in runs[1].findings[0].message


def test_the_pool_starts_on_the_first_files_read(monkeypatch):
    monkeypatch.setattr(pipeline, "_INLINE_BYTES", 0)
    settings = settings_for(plugins.all_rules(), target="3.10")
    body = b"import asyncio\nasyncio.timeout\n" + b"x = 1\n" * 200
    chunks = [[(i, f"m{i}.py", body, settings) for i in range(start, start + 4)] for start in (0, 4, 8)]
    for jobs, expected in ((2, [False, True, True]), (1, [False, False, False])):
        pool_when_asked = []
        with pipeline._Workers(jobs) as workers:
            def reading():
                for chunk in chunks:
                    pool_when_asked.append(workers.pool is not None)
                    yield chunk

            results = workers.stream(reading(), 12)
        assert pool_when_asked == expected
        assert sorted(results) == list(range(12))
        assert all([f.code for f in result.findings] == ["ARV101"] for result in results.values())


def _children(pid):
    """The ids of the processes whose parent is `pid`, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid):
    """Running, as opposed to gone or a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _cached_results(database):
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM entries").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_run_killed_with_sigkill_leaves_no_workers_and_keeps_what_it_finished(tmp_path, cli, cache_dir):
    from conftest import SCRIPT

    root = tmp_path / "proj"
    root.mkdir()
    files = 160
    for number in range(files):  # every file different: one cache entry each, ~7 KB of work each
        helpers = "".join(f"def helper_{number}_{i}(a, b):\n    return [a + b * {i} for _ in range({i})]\n\n" for i in range(80))
        (root / f"m{number:03}.py").write_text(f"import time\n\n{helpers}async def main():\n    time.sleep({number})\n")
    environment = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(cache_dir), NO_COLOR="1")
    database = cache_dir / "results-v2.sqlite"
    workers = []
    with subprocess.Popen([str(SCRIPT), "--jobs", "2", "--format", "json", "--target-version", "3.10", "."],
                          cwd=root, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as run:
        try:
            for _ in range(30_000):  # until the first results are in the cache
                assert run.poll() is None, "the run ended before any result was committed"
                if _cached_results(database):
                    workers = _children(run.pid)
                    break
                time.sleep(0.01)
            assert workers, "no result was committed while the pool worked"
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
            for _ in range(1000):  # the workers notice their parent died
                if not any(_alive(pid) for pid in workers):
                    break
                time.sleep(0.01)
            assert not [pid for pid in workers if _alive(pid)]
        finally:
            if run.poll() is None:
                run.kill()
            for pid in workers:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
    committed = _cached_results(database)
    assert 0 < committed < files

    rerun = cli("--format", "json", "--target-version", "3.10", ".", cwd=root, env={"ASYNCREVIEW_CACHE_DIR": str(cache_dir)})
    assert rerun.json()["summary"]["cached"] == committed  # only the unfinished files were analyzed
    assert rerun.json()["summary"]["files"] == files
    found = sorted((f["path"], f["line"], f["code"]) for f in rerun.json()["findings"])
    assert found == [(f"m{number:03}.py", 244, "ARV201") for number in range(files)]
