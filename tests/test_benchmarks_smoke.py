"""`python -m benchmarks --quick` on a tiny generated corpus: every measurement is taken, the JSON
carries every key with sane values. No timing assertions: the machine is shared."""

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MODULE = textwrap.dedent(
    """
    import asyncio
    import time


    async def fetch(url):
        time.sleep(1)
        await asyncio.sleep(0)
        return url


    async def main(urls):
        results = []
        for url in urls:
            results.append(await fetch(url))
        return results
    """
)


def _corpus(root: Path) -> None:
    for package in ("alpha-1.0", "beta-2.0"):
        folder = root / package / package.split("-")[0]
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("", encoding="utf-8")
        for number in range(3):
            padding = "".join(f"\n\ndef helper_{number}_{i}(x):\n    return x + {i}\n" for i in range(12))
            (folder / f"mod{number}.py").write_text(MODULE + padding, encoding="utf-8")
    (root / "beta-2.0" / "beta" / "broken.py").write_text("async def f(:\n", encoding="utf-8")


def test_quick_benchmark_writes_every_measurement(tmp_path):
    corpus = tmp_path / "corpus"
    _corpus(corpus)
    out = tmp_path / "out" / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--corpus", str(corpus), "--quick", "--jobs", "2", "--skip-llm", "--json-out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "NOT MET" in completed.stdout or "met" in completed.stdout
    report = json.loads(out.read_text(encoding="utf-8"))

    meta = report["meta"]
    files = sorted(corpus.rglob("*.py"))
    assert meta["files"] == len(files) == 9
    assert meta["lines"] == sum(p.read_text().count("\n") for p in files)
    codes = {code for rule in meta["rules"] for code in rule["codes"]}
    assert "ARV201" in codes and meta["repeat"] == 1

    measured = report["measurements"]
    for key in ("asyncreview_cold", "asyncreview_fill", "asyncreview_warm", "libcst_parse_1", "libcst_parse_pool",
                "ruff_cold", "flake8_sample", "asyncreview_cold_sample", "single_asyncreview", "single_flake8",
                "single_asyncreview_fix", "single_asyncreview_fixing"):
        value = measured[key]
        assert value["failed"] == 0, (key, value)
        assert 0 < value["seconds"] < 300, (key, value)
        assert 1 < value["maxrss_mib"] < 4096, (key, value)
        assert value["runs"] and min(value["runs"]) == round(value["seconds"], 4) or key.startswith("single")
    for key in ("asyncreview_cold", "libcst_parse_pool", "ruff_cold"):
        assert measured[key]["lines"] == meta["lines"]
        assert measured[key]["lines_per_second"] > 0
    # asyncreview saw every file and parsed the six modules (empty __init__ files never pass the
    # prefilter, the broken one is a syntax error); the warm run took all from the cache.
    assert measured["asyncreview_cold"]["files"] == 9 and measured["asyncreview_cold"]["parsed"] == 6
    assert measured["asyncreview_cold"]["findings"] >= 6  # time.sleep in async def x6, syntax error
    assert measured["asyncreview_warm"]["cached"] == 9
    assert measured["asyncreview_fill"]["cached"] == 0
    assert len(measured["single_asyncreview"]["runs"]) == 3
    assert len(measured["single_asyncreview_fixing"]["runs"]) == 3
    assert measured["single_asyncreview_fixing"]["fixed_runs"] == 3  # every --fix run had a fix to apply and applied it
    assert report["meta"]["flake8_sample_lines"] == measured["flake8_sample"]["lines"] > 0

    for key in ("cold_vs_libcst_pool", "cold_vs_libcst_1", "warm_vs_ruff_cold", "flake8_speedup",
                "single_vs_flake8", "single_fix_nothing_vs_flake8", "single_fix_vs_flake8", "peak_memory_mib"):
        assert report["ratios"][key] > 0, key
    assert set(report["targets"]) == {"cold_vs_libcst_1", "cold_vs_libcst_pool", "flake8_speedup", "warm_vs_ruff_cold",
                                      "single_vs_flake8", "single_fix_vs_flake8", "peak_memory_mib"}
    for target in report["targets"].values():
        assert target["met"] in (True, False)


def test_measurements_alternate_in_rounds_and_the_best_run_counts(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # benchmarks/ is not installed, only run from the checkout
    from benchmarks.run import interleaved

    calls = []

    def tool(name, seconds):
        remaining = iter(seconds)

        def run():
            calls.append(name)
            return {"seconds": next(remaining), "maxrss_mib": 1.0, "returncode": 0}

        return run

    result = interleaved(2, {"a": tool("a", [3.0, 2.0]), "b": tool("b", [1.0, 4.0])}, log=lambda message: None)
    assert calls == ["a", "b", "a", "b"]
    assert result["a"]["seconds"] == 2.0 and result["a"]["runs"] == [3.0, 2.0]
    assert result["b"]["seconds"] == 1.0 and result["b"]["runs"] == [1.0, 4.0]


def test_the_llm_benchmark_counts_the_busiest_minute(monkeypatch):
    """`over_limit` of `llm_throughput --rpm`: the most requests the server saw in any 60 s."""
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.llm_throughput import _most_in_a_minute

    assert _most_in_a_minute([]) == 0
    assert _most_in_a_minute([0.0, 30.0, 59.9, 60.0, 119.9]) == 3  # [0, 60) holds three
    assert _most_in_a_minute([0.0, 60.0, 120.0]) == 1
    assert _most_in_a_minute([i * 0.5 for i in range(300)]) == 120  # 120 a minute, evenly spaced


def test_generated_module_benchmark_measures_asyncreview_against_ast(tmp_path):
    out = tmp_path / "generated.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.generated_module", "--megabytes", "0.05", "--repeat", "1", "--json-out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["bytes"] >= 50_000 and report["lines"] > 1000
    assert set(report["results"]) == {"asyncreview", "ast.parse"}
    assert all(value["returncode"] == 0 and value["seconds"] > 0 for value in report["results"].values())
    assert set(report["targets"]) == {"time", "memory"} and report["peak_mib"] > 0
    assert "x ast.parse" in completed.stdout


def test_the_generated_module_names_what_rules_look_for_only_in_its_data(tmp_path):
    """The benchmark is only fair if its strings would admit the file to a byte screen."""
    from benchmarks.generated_module import generated_source

    from asyncreview.engine import admitted_rules
    from asyncreview.plugins import all_rules
    from asyncreview.testing import settings_for

    source = generated_source(0.01)
    settings = settings_for(all_rules())
    assert len(admitted_rules(source.encode(), all_rules(), settings)) >= 3
    coded = admitted_rules(source.encode(), all_rules(), settings, tree=ast.parse(source))
    # only rules that join files (a join may still ask for it), none of which can report in it
    assert sorted(rule.__name__ for rule in coded) == ["BlockingCalls", "NeverAwaited"]
    from asyncreview.engine import analyze
    result = analyze(source.encode(), settings, all_rules(), defer_summaries=True)
    assert result.pending and not result.parsed


def test_findings_by_rule_lists_what_changed_between_two_runs(tmp_path):
    corpus = tmp_path / "corpus"
    _corpus(corpus)

    def bench(*args):
        completed = subprocess.run([sys.executable, "-m", "benchmarks.findings_by_rule", *map(str, args)],
                                   cwd=REPO, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    printed = bench("run", corpus, "--select", "ARV2", "--json-out", tmp_path / "before.json")
    before = json.loads((tmp_path / "before.json").read_text())["findings"]
    assert {f["package"] for f in before} == {"alpha-1.0", "beta-2.0"}
    assert f"{len(before)} findings" in printed and "ARV201" in printed
    fixed = corpus / "alpha-1.0" / "alpha" / "mod0.py"
    fixed.write_text(fixed.read_text().replace("time.sleep(1)", "await asyncio.sleep(1)"))
    broken = corpus / "beta-2.0" / "beta" / "mod1.py"
    broken.write_text(broken.read_text() + "\n\nasync def also():\n    time.sleep(2)\n")
    bench("run", corpus, "--select", "ARV2", "--json-out", tmp_path / "after.json")
    changes = bench("diff", tmp_path / "before.json", tmp_path / "after.json")
    assert "new: 1\n  ARV201: 1 (beta-2.0 1)" in changes and "time.sleep(2)" in changes
    assert "gone: 1\n  ARV201: 1 (alpha-1.0 1)" in changes


def test_the_structured_parity_benchmark_maps_flake8_async_marks_to_our_lines(tmp_path):
    """A hand-written excerpt in the eval files' format (not flake8-async's files): `# error:`
    lines, an explicit `# ASYNC104:` mark on the statement that leaves a handler, a module-level
    handler that only the asyncio adaptation puts in reach of a cancellation."""
    from benchmarks.flake8_async_structured import SUBJECTS, adapt, measure

    (tmp_path / "async100_asyncio.py").write_text(textwrap.dedent(
        """
        import asyncio


        async def foo():
            async with asyncio.timeout(1):  # error: 15, "asyncio", "timeout"
                ...
            async with asyncio.timeout(1):  # safe
                await foo()
        """), encoding="utf-8")
    (tmp_path / "async104.py").write_text(textwrap.dedent(
        """\
        # ARG --enable=ASYNC103,ASYNC104
        try:
            ...
        except BaseException:  # ASYNC103_trio: 7, "BaseException"
            ...

        def foo():
            try:
                ...
            except BaseException:
                return  # error: 8
        """), encoding="utf-8")
    assert adapt("def f():\n    try:\n        ...\n").splitlines()[1:] == [
        "    async def f():", "        try:", "            await sleep(0)"]
    subject = {s.code: s for s in SUBJECTS}
    timeouts = measure(subject["ASYNC100"], tmp_path, tmp_path, adapted=False)
    assert (timeouts.expected, timeouts.found, timeouts.flagged, timeouts.right) == (1, 1, 1, 1)
    as_they_are = measure(subject["ASYNC104"]._replace(files=("async104.py",)), tmp_path, tmp_path, adapted=False)
    assert (as_they_are.expected, as_they_are.found, as_they_are.flagged) == (1, 0, 0)
    adapted = measure(subject["ASYNC104"]._replace(files=("async104.py",)), tmp_path, tmp_path, adapted=True)
    # the `return` at line 11 counts through its handler (line 10), which ARV501 reports
    assert (adapted.expected, adapted.found, adapted.flagged, adapted.right) == (1, 1, 2, 2)


def test_structured_parity_counts_a_statement_in_a_nested_handler_through_the_outer_one(tmp_path):
    """ASYNC104 marks a `return` inside `except ValueError:` nested in the cancellation's handler;
    ARV501 reports the outer handler, and the line counts as found through it (not through the
    inner handler, which catches no cancellation), and a `yield` or another exception raised
    instead of the cancellation is found on its own."""
    from benchmarks.flake8_async_structured import SUBJECTS, measure

    (tmp_path / "async104.py").write_text(textwrap.dedent(
        """\
        # ARG --enable=ASYNC103,ASYNC104
        def foo():
            try:
                ...
            except BaseException:  # ASYNC103_trio: 11, "BaseException"
                try:
                    return  # error: 12
                except ValueError:
                    return  # error: 12

        def bar():
            try:
                ...
            except BaseException:
                yield 1  # error: 8
                raise
            try:
                ...
            except BaseException:
                raise ValueError()  # error: 8
        """), encoding="utf-8")
    subject = {s.code: s for s in SUBJECTS}["ASYNC104"]._replace(files=("async104.py",))
    adapted = measure(subject, tmp_path, tmp_path, adapted=True)
    # found: both returns (through line 5), the yield (line 15) and the raise (through line 19);
    # flagged: lines 5, 15 and 19
    assert (adapted.expected, adapted.found, adapted.flagged, adapted.right) == (4, 4, 3, 3)


def test_the_llm_cost_benchmark_compares_both_designs_at_equal_coverage(tmp_path):
    """benchmarks/llm_cost.py: both designs review every fixture finding; the new one sends fewer
    requests, and its billed input counts the cached prefix (written once, then read)."""
    out = tmp_path / "cost.json"
    subprocess.run([sys.executable, "-m", "benchmarks.llm_cost", "--json-out", str(out)], cwd=REPO, check=True, capture_output=True)
    result = json.loads(out.read_text())
    before, now = result["before"], result["now"]
    assert before["findings"] == now["findings"] == before["reviewed"] == now["reviewed"] > 100
    assert before["requests"] == before["findings"] > now["requests"]
    assert before["cache_read_input_tokens"] == before["cache_creation_input_tokens"] == 0  # under the minimum
    assert now["cache_creation_input_tokens"] > 0 and now["cache_read_input_tokens"] > 20 * now["cache_creation_input_tokens"]
    assert result["input_ratio"] == round(now["billed_input_per_100"] / before["billed_input_per_100"], 3) < 1
