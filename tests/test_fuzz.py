"""Fuzzing the engine: generated programs (hypothesmith) and mutated real files never make
analyze() raise or hang; each result is either rule findings or one ARV00x diagnostic, and it
survives the cache's JSON round trip. Bounded so the file runs in well under a minute."""

import concurrent.futures
import json
import random
import threading
import warnings
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings

from asyncreview import plugins
from asyncreview.engine import FileResult, analyze
from asyncreview.testing import settings_for

REPO = Path(__file__).resolve().parent.parent
RULES = plugins.all_rules()
SETTINGS = settings_for(RULES, target="3.9")
CODES = set(plugins.all_codes())
PER_FILE_SECONDS = 30
SEEDS = sorted(REPO.glob("fixtures/*/*.py")) + [REPO / "asyncreview" / n for n in ("pipeline.py", "engine.py", "store.py")]
MUTATIONS_PER_SEED = 8
STATS = {"generated": 0, "mutated": 0}


def _deep_stack_executor() -> concurrent.futures.ThreadPoolExecutor:
    """As the pipeline runs analysis: on a thread with a big stack, so deep input cannot
    overflow the C stack of the test process."""
    previous = threading.stack_size(512 * 1024 * 1024)
    try:
        executor = concurrent.futures.ThreadPoolExecutor(1)
        executor.submit(lambda: None).result()
    finally:
        threading.stack_size(previous)
    return executor


_DEEP = _deep_stack_executor()


def checked(data: bytes) -> FileResult:
    """The pipeline's own path (a deep-stack thread), with a bound on the time one file may take."""
    result = _DEEP.submit(analyze, data, SETTINGS, RULES, "fuzz.py").result(timeout=PER_FILE_SECONDS)
    lines = max(1, data.count(b"\n") + 1)
    diagnostics = [f for f in result.findings if f.code.startswith("ARV00")]
    assert all(f.code in CODES for f in result.findings), result.findings
    assert not any(f.code == "ARV003" for f in result.findings), [f.message for f in diagnostics]
    if result.parsed:
        assert not any(f.code in ("ARV002", "ARV004") for f in result.findings)
    else:
        assert len(result.findings) <= 1 and result.findings == diagnostics
    for finding in result.findings:
        assert 1 <= finding.line <= finding.end_line <= lines and finding.column >= 1
    again = FileResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.to_json() == result.to_json()
    return result


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd programs on purpose
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_grammar_generated_programs(source):
    STATS["generated"] += 1
    source = "import asyncio\n" + source  # past the prefilter: every program reaches the rules
    result = checked(source.encode("utf-8", "surrogatepass"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # generated code is odd on purpose
            compile(source, "fuzz.py", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    assert not any(f.code == "ARV002" for f in result.findings)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.splitlines(keepends=True)
    kind = rng.randrange(9)
    if kind == 0:
        return data[: rng.randrange(len(data) + 1)]
    if kind == 1 and lines:
        del lines[rng.randrange(len(lines))]
    elif kind == 2 and lines:
        index = rng.randrange(len(lines))
        lines[index:index] = [lines[index]] * rng.randint(1, 3)
    elif kind == 3:
        raw = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if raw:
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return bytes(raw)
    elif kind == 4:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice([b"(", b"[", b"{", b")", b"]", b"}", b"(" * 200, b"[" * 600]) + data[at:]
    elif kind == 5 and lines:
        index = rng.randrange(len(lines))
        lines[index] = rng.choice([b"\t", b"  ", b"\x0c", b"async ", b"await ", b"\\\n"]) + lines[index]
    elif kind == 6:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[at:]
    elif kind == 7 and len(lines) > 2:
        first, second = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[first], lines[second] = lines[second], lines[first]
    else:
        return rng.choice([b"\xef\xbb\xbf", b"# -*- coding: latin-1 -*-\n", b"# coding: bogus\n", b"\x00"]) + data
    return b"".join(lines)


def test_mutated_real_files():
    rng = random.Random(20240909)
    parsed = diagnosed = 0
    for seed in SEEDS:
        original = seed.read_bytes()
        assert checked(original).parsed, seed
        for _ in range(MUTATIONS_PER_SEED):
            result = checked(_mutate(original, rng))
            STATS["mutated"] += 1
            parsed += result.parsed
            diagnosed += not result.parsed
    # Both outcomes occur, so the mutations reach the rules and the diagnostics alike.
    assert parsed > 20 and diagnosed > 20, (parsed, diagnosed)
    assert STATS["mutated"] == len(SEEDS) * MUTATIONS_PER_SEED >= 100


def test_mutated_files_through_the_cli(cli, project):
    """The whole run: one mutated copy of each seed beside an untouched one, in worker processes."""
    rng = random.Random(7)
    for number, seed in enumerate(SEEDS):
        project.write(f"orig/{number}_{seed.name}", seed.read_bytes())
        for copy in range(3):
            project.write(f"mut/{number}_{copy}_{seed.name}", _mutate(seed.read_bytes(), rng))
    alone = cli("--format", "json", "--no-cache", "-j", "1", "orig", cwd=project.root)
    together = cli("--format", "json", "--no-cache", "-j", "2", ".", cwd=project.root)
    assert "Traceback" not in together.err and together.code in (0, 1)
    assert together.json()["summary"]["files"] == 4 * len(SEEDS)
    mutated = [f for f in together.json()["findings"] if f["path"].startswith("mut/")]
    assert not any(f["code"] == "ARV003" for f in mutated)
    assert [f for f in together.json()["findings"] if f["path"].startswith("orig/")] == alone.json()["findings"]
