"""`--llm-batch` across runs: the batch id is kept in the cache folder, so a run that is killed or
started with `--no-wait` is collected by the next one instead of being paid for twice. The real
CLI and the real `anthropic` SDK against the fake API's batch endpoints (tests/fakeapi.py)."""

import asyncio
import os
import signal
import subprocess
import time

import pytest
from conftest import SCRIPT
from test_llm import KEY, FakeClock, fake, llm, module_name, reviews, write_project  # noqa: F401 - fixtures

MARKERS = {1: "FAKE:refute", 3: "FAKE:uncertain"}
EXPECTED = {1: "false_positive", 3: "uncertain"}


def verdicts(result):
    """Verdict per function index (one finding per function, in line order), None if unreviewed."""
    found = sorted(reviews(result).items())
    return {index: review and review["verdict"] for index, (_, review) in enumerate(found)}


def expected(count):
    return {index: EXPECTED.get(index, "confirmed") for index in range(count)}


def write_marked(project, count):
    write_project(project, count, markers=MARKERS)


def batch_ids(fake):
    return sorted(fake.batches)


def polls(fake, batch_id):
    return sum(1 for path in fake.paths if path == f"/v1/messages/batches/{batch_id}")


def creations(fake):
    return sum(1 for path in fake.paths if path == "/v1/messages/batches")


@pytest.fixture
def cache_env(tmp_path):
    return {"ASYNCREVIEW_CACHE_DIR": str(tmp_path / "batch-cache")}


def test_a_killed_run_leaves_its_batch_to_the_next_run(llm, fake, project, cache_env):
    write_marked(project, 5)
    fake.batch_polls_before_end = 10**9  # never ends while the first run waits
    environment = dict(os.environ, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY=KEY, NO_COLOR="1", **cache_env)
    first = subprocess.Popen([str(SCRIPT), "--llm-batch", "."], cwd=project.root, env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # until the run polls its batch: the id was recorded before that
            if fake.batches and polls(fake, batch_ids(fake)[0]) >= 1:
                break
            if first.poll() is not None:
                break
            time.sleep(0.01)
        assert first.poll() is None, first.communicate()
        first.send_signal(signal.SIGKILL)  # no chance to clean up: as a CI timeout or a crash
    finally:
        first.wait()
    (batch_id,) = batch_ids(fake)

    fake.batch_polls_before_end = 0  # it ended meanwhile
    second = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    assert second.code == 1, second.err
    assert creations(fake) == 1, "the pending batch is collected, not submitted and paid for again"
    assert verdicts(second) == expected(5)
    assert f"LLM batch {batch_id}: found from an earlier run" in second.err

    before = list(fake.paths)
    third = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    assert fake.paths == before, "collected batches are forgotten and their reviews cached"
    assert verdicts(third) == expected(5) and "5 cache hits" in third.err


def test_no_wait_submits_exits_and_a_later_run_collects(llm, fake, project, cache_env):
    write_marked(project, 4)
    fake.batch_polls_before_end = 10**9
    submitted = llm("--llm-batch", "--no-wait", "--format", "json", ".", env=cache_env)
    assert submitted.code == 1, submitted.err  # the local result decides
    assert set(verdicts(submitted).values()) == {None}
    (batch_id,) = batch_ids(fake)
    assert polls(fake, batch_id) == 0  # submitted, never waited for
    notice = [line for line in submitted.err.splitlines() if "still processing" in line]
    assert notice == [
        f"asyncreview: LLM batch {batch_id} still processing: 4 finding(s) keep their local result for now; "
        "run `asyncreview --llm-batch` again to collect it (the API keeps results 29 days)"
    ]
    assert "requests done" not in submitted.err  # it did not wait

    again = llm("--llm-batch", "--no-wait", "--format", "json", ".", env=cache_env)
    assert creations(fake) == 1 and polls(fake, batch_id) == 1  # looked once, did not submit again
    assert "still processing" in again.err

    fake.batch_polls_before_end = 0
    collected = llm("--llm-batch", "--no-wait", "--format", "json", ".", env=cache_env)
    assert creations(fake) == 1 and verdicts(collected) == expected(4)
    assert "still processing" not in collected.err


@pytest.mark.parametrize("outcome", ["expired", "canceled", "errored"])
def test_a_batch_that_came_back_without_reviews_is_one_diagnostic_and_is_forgotten(llm, fake, project, cache_env, outcome):
    write_marked(project, 3)
    fake.batch_outcome = outcome
    failed = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    assert failed.code == 1, failed.err
    assert set(verdicts(failed).values()) == {None}  # the local result stands
    (batch_id,) = batch_ids(fake)
    diagnostics = [line for line in failed.err.splitlines() if batch_id in line and "without a review" in line]
    assert diagnostics == [f"asyncreview: LLM batch {batch_id}: 3 {outcome} request(s) came back without a review; those findings keep their local result"]
    assert f"LLM batch {batch_id}: 0 of 3 requests done, waited 0m 0s" in failed.err
    assert "requests done" not in failed.out  # progress goes to stderr, never into the report

    fake.batch_outcome = "succeeded"  # nothing of the failed batch was cached or kept pending
    retried = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    assert creations(fake) == 2 and verdicts(retried) == expected(3)


def test_a_batch_the_api_no_longer_knows_is_forgotten_and_reviewed_again(llm, fake, project, cache_env):
    write_marked(project, 2)
    fake.batch_polls_before_end = 10**9
    llm("--llm-batch", "--no-wait", ".", env=cache_env)
    (lost,) = batch_ids(fake)
    fake.forget_batch(lost)
    fake.batch_polls_before_end = 1
    result = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    assert f"LLM batch {lost} from an earlier run is unknown to the API" in result.err
    assert "refused" not in result.err  # a 404 for an old batch does not stop the stage
    assert creations(fake) == 2 and verdicts(result) == expected(2)


def test_no_wait_needs_the_batch_mode_and_the_cache(llm, fake, project):
    write_marked(project, 1)
    for args in (["--llm", "--no-wait"], ["--llm-batch", "--no-wait", "--no-cache"]):
        result = llm(*args, ".")
        assert result.code == 2 and "--no-wait" in result.err, args
    assert not fake.paths


def batch_in_process(fake, monkeypatch, project, tmp_path, count, **options):
    """review_batch in this process on a fake clock, with the pending record in tmp_path."""
    from asyncreview.finding import Finding, Severity
    from asyncreview.llm.batch import review_batch
    from asyncreview.llm.orchestrator import Orchestrator
    from asyncreview.llm.pending import PendingBatches
    from asyncreview.llm.prompt import build_item, build_jobs, build_prefix
    from asyncreview.llm.settings import LLMSettings

    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    write_project(project, count)
    settings = LLMSettings()
    items = []
    for index in range(count):  # one module each: one request each
        path = str(project.root / module_name("app.py", index))
        finding = Finding(path, 4, 16, 4, 31, "ARV101", Severity.CRITICAL, "asyncio.timeout needs 3.11", "")
        items.append(build_item(finding, None, settings, "3.9"))
    jobs = build_jobs(items, build_prefix(["ARV101"], {}, settings), settings)
    clock = FakeClock()
    said, notices = [], []

    async def main(pending):
        async with Orchestrator(settings, api_key=KEY, clock=clock, sleep=clock.sleep) as llm:
            return llm, await review_batch(llm, jobs, pending=pending, say=said.append, notices=notices, **options)

    pending = PendingBatches(tmp_path / "state")  # opened outside the loop: the store's files block
    try:
        llm, found = asyncio.run(main(pending))
        left = pending.load()
    finally:
        pending.close()
    return llm, [found.get(item.key) for item in items], said, notices, left, clock


def test_waiting_prints_a_progress_line_on_change_and_every_five_minutes(fake, monkeypatch, project, tmp_path):
    fake.batch_polls_before_end = 12  # waits of 1, 2, 4 ... 32 s, then six of 60 s: ends 423 s in
    llm, found, said, notices, left, clock = batch_in_process(fake, monkeypatch, project, tmp_path, 3)
    assert [review["verdict"] for review in found] == ["confirmed"] * 3
    (batch_id,) = batch_ids(fake)
    assert said == [
        f"LLM batch {batch_id}: 0 of 3 requests done, waited 0m 0s",
        f"LLM batch {batch_id}: 0 of 3 requests done, waited 5m 3s",
    ]
    assert clock.now == 423.0 and not notices and left == {}


def test_a_batch_that_outlives_the_wait_stays_recorded_for_the_next_run(fake, monkeypatch, project, tmp_path):
    fake.batch_polls_before_end = 10**9
    llm, found, said, notices, left, clock = batch_in_process(fake, monkeypatch, project, tmp_path, 2, max_wait=100.0)
    (batch_id,) = batch_ids(fake)
    assert found == [None, None] and "did not end within 100s" in llm.warning
    assert list(left) == [batch_id] and len(left[batch_id]["keys"]) == 2
    assert any("again to collect it" in notice for notice in notices)

    fake.batch_polls_before_end = 0
    llm, found, said, notices, left, clock = batch_in_process(fake, monkeypatch, project, tmp_path, 2)
    assert [review["verdict"] for review in found] == ["confirmed"] * 2
    assert batch_ids(fake) == [batch_id] and left == {} and not notices


def test_a_budget_sends_what_fits_in_the_batch_and_says_so(llm, fake, project, cache_env):
    write_project(project, 4, llm="max-requests = 2", markers=MARKERS)
    result = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    (batch,) = fake.batches.values()
    assert len(batch["requests"]) == 2  # before: the budget stopped the stage and nothing was sent
    assert sorted(v is not None for v in verdicts(result).values()) == [False, False, True, True]
    assert "stopped after max-requests = 2" in result.err


def test_a_later_run_that_groups_its_findings_otherwise_still_collects_the_batch(llm, fake, project, cache_env):
    """The record keeps which findings each request of the batch carries (by position, the ids the
    model answers by): when one function of a two-function request changed, the next run's
    request for that file differs, yet the unchanged function's verdict comes from the batch."""
    from fakeapi import finding_document

    def write(second_timeout):
        project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
        project.write("app.py", (
            "import asyncio\n\n\nasync def first(client):\n    # FAKE:refute\n"
            "    async with asyncio.timeout(1):\n        return await client.get('/')\n\n\n"
            f"async def second(client):\n    async with asyncio.timeout({second_timeout}):\n        return await client.get('/')\n"
        ))

    write(2)
    fake.batch_polls_before_end = 10**9
    llm("--llm-batch", "--no-wait", ".", env=cache_env)
    (old,) = batch_ids(fake)
    assert [len(finding_document(request["params"])["functions"]) for request in fake.batches[old]["requests"]] == [2]

    write(3)  # same lines: only the second function's finding is new
    fake.batch_polls_before_end = 0
    result = llm("--llm-batch", "--format", "json", ".", env=cache_env)
    found = {f["line"]: f.get("review") for f in result.json()["findings"]}
    assert {line: review and review["verdict"] for line, review in found.items()} == {6: "false_positive", 11: "confirmed"}
    (new,) = set(batch_ids(fake)) - {old}
    (request,) = fake.batches[new]["requests"]  # only the changed function went out again
    assert [[f["line"] for f in function["findings"]] for function in finding_document(request["params"])["functions"]] == [[11]]
    assert "still processing" not in result.err and "without a review" not in result.err
