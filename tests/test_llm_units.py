"""The LLM stage's pure parts: output validation, config validation, the rate limiter's
arithmetic and header re-seeding, and the request's cache key."""

import asyncio
import datetime

import pytest

from asyncreview.finding import Finding, Severity
from asyncreview.llm.orchestrator import RateLimiter
from asyncreview.llm.prompt import build_item, build_jobs, build_prefix
from asyncreview.llm.settings import LLMSettings, validate_table
from asyncreview.llm.validate import checked_review, validate_review

GOOD = {"verdict": "confirmed", "severity": "WARNING", "explanation": " why ", "suggested_fix": "use asyncio.to_thread on line 12"}
SHOWN = frozenset(range(10, 21))


def test_a_good_review_passes_trimmed():
    review, accepted = checked_review(GOOD, "WARNING", SHOWN)
    assert accepted and review == dict(GOOD, explanation="why")


@pytest.mark.parametrize(
    "change",
    [
        {"verdict": "FALSE_POSITIVE"},
        {"verdict": None},
        {"severity": "BLOCKER"},
        {"severity": ["WARNING"]},
        {"explanation": 42},
        {"suggested_fix": {"line": 3}},
    ],
)
def test_bad_fields_mean_uncertain(change):
    review, accepted = checked_review(dict(GOOD, **change), "WARNING", SHOWN)
    assert review["verdict"] == "uncertain" and review["severity"] == "WARNING" and not accepted
    assert review["explanation"].startswith("the reviewer")  # the reason, for the report and the cache


@pytest.mark.parametrize("fix, line", [("replace line 9", 9), ("see lines 18-25", 25), ("lines 15 to 12", 12)])
def test_a_fix_citing_an_unshown_line_is_dropped_and_the_verdict_kept(fix, line):
    refuted = dict(GOOD, verdict="false_positive", suggested_fix=fix)
    review, accepted = checked_review(refuted, "WARNING", SHOWN)
    assert accepted and review["verdict"] == "false_positive" and review["suggested_fix"] == ""
    assert review["explanation"] == f"why [suggested fix dropped: it refers to line {line}, which the request did not show]"


def test_a_fix_may_cite_the_imports_and_the_helper_lines_the_request_showed(tmp_path):
    source = "import time\nimport os\n\nasync def f():\n    load()\n"
    snippet = "    load()\n# helpers.py:42 (in load):\ntime.sleep(1)"
    item = build_item(_finding(tmp_path, source, snippet, line=5), None, LLMSettings(), "3.9")
    assert item.shown_lines == {1, 2, 4, 5, 42}
    (job,) = build_jobs([item], build_prefix(["ARV201"], {}, LLMSettings(model="claude-sonnet-4-5")), LLMSettings())
    document = job.params["messages"][0]["content"]
    assert "    1  import time" in document  # numbered, as the code is: the model can cite them
    for fix in ("add `import asyncio` after line 2", "make load async (helpers.py line 42)", "line 5: await it"):
        review, accepted = checked_review(dict(GOOD, suggested_fix=fix), "WARNING", item.shown_lines)
        assert accepted and review["suggested_fix"] == fix
    assert checked_review(dict(GOOD, suggested_fix="edit line 3"), "WARNING", item.shown_lines)[0]["suggested_fix"] == ""


@pytest.mark.parametrize("default, given, ok", [("CRITICAL", "WARNING", True), ("CRITICAL", "SUGGESTION", False), ("SUGGESTION", "CRITICAL", False), ("WARNING", "critical", True)])
def test_severity_moves_at_most_one_step(default, given, ok):
    review = validate_review(dict(GOOD, severity=given, suggested_fix=""), default, SHOWN)
    assert (review["verdict"] == "confirmed") is ok


@pytest.mark.parametrize("raw", [None, "text", 3, [], {}])
def test_non_records_are_uncertain(raw):
    assert validate_review(raw, "WARNING", SHOWN)["verdict"] == "uncertain"


def test_llm_table_validation():
    assert validate_table({"model": "claude-x", "max-concurrency": 2, "temperature": 0}) == {"model": "claude-x", "max-concurrency": 2, "temperature": 0.0}
    for bad in ({"max_concurrency": 2}, {"max-concurrency": 0}, {"enabled": "yes"}, {"timeout": -1}, {"max-cost-usd": True}):
        with pytest.raises(ValueError):
            validate_table(bad)
    settings = LLMSettings.from_table(validate_table({"requests-per-minute": 50, "max-requests": 9}))
    assert settings.requests_per_minute == 50 and settings.max_requests == 9 and settings.max_concurrency == 4


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_requests_are_spaced_evenly():
    clock = Clock()
    limiter = RateLimiter(LLMSettings(requests_per_minute=60), clock)
    limiter.next_slot = clock.now + 1.0
    assert limiter.delay(0, 0) == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.delay(0, 0) == 0


def _granted(limiter, clock, count):
    """The clock readings at which `count` concurrent requests got their slot; naps advance the
    fake clock instead of sleeping."""

    async def nap(seconds):
        clock.now += seconds
        return True

    granted = []

    async def request():
        assert await limiter.acquire(100, 10, nap)
        granted.append(clock.now)

    async def main():
        await asyncio.gather(*(request() for _ in range(count)))

    asyncio.run(main())
    return granted


def test_sixty_requests_per_minute_means_one_a_second():
    clock = Clock()
    limiter = RateLimiter(LLMSettings(requests_per_minute=60), clock)
    assert _granted(limiter, clock, 4) == [100.0, 101.0, 102.0, 103.0]  # no burst, no drift


def test_without_a_limit_requests_are_not_spaced():
    clock = Clock()
    assert _granted(RateLimiter(LLMSettings(), clock), clock, 4) == [100.0] * 4


def test_a_429_with_retry_after_pauses_everyone_and_halves_the_rate_once_per_pause():
    clock = Clock()
    limiter = RateLimiter(LLMSettings(), clock)
    limiter.slow_down(1.0)
    limiter.slow_down(1.0)  # another request that was in flight answers 429 too: one slowdown
    assert limiter.penalty == RateLimiter.FIRST_PENALTY
    assert limiter.delay(0, 0) == pytest.approx(1.0)
    clock.now += 1.0
    assert _granted(limiter, clock, 3) == [101.0, 101.25, 101.5]
    limiter.slow_down(2.0)
    assert limiter.penalty == 2 * RateLimiter.FIRST_PENALTY
    for _ in range(20):
        clock.now = limiter.paused_until
        limiter.slow_down(1.0)
    assert limiter.penalty == RateLimiter.MAX_PENALTY  # never slower than one a second
    for _ in range(40):
        limiter.recover()
    assert limiter.penalty == 0.0  # successes win the rate back


def test_token_buckets_refill_per_minute():
    clock = Clock()
    limiter = RateLimiter(LLMSettings(input_tokens_per_minute=6000), clock)
    limiter.input.take(6000)
    assert limiter.delay(600, 0) == pytest.approx(6.0)  # 600 tokens refill in a tenth of a minute
    clock.now += 6.0
    assert limiter.delay(600, 0) == pytest.approx(0.0)


def test_headers_reseed_limits_and_pause_when_exhausted():
    clock = Clock()
    limiter = RateLimiter(LLMSettings(requests_per_minute=600), clock)
    reset = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    limiter.observe(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "10",
            "anthropic-ratelimit-input-tokens-limit": "30000",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": reset,
        }
    )
    assert limiter.interval == pytest.approx(1.2)  # the server's 50/min is stricter than 600/min
    assert limiter.input.limit == 30000
    assert 3.5 < limiter.delay(10, 0) <= 5.0
    limiter.observe({"anthropic-ratelimit-requests-limit": "not a number", "anthropic-ratelimit-input-tokens-reset": "garbage"})
    assert limiter.interval == pytest.approx(1.2)


def _finding(tmp_path, code_text, snippet="    time.sleep(1)", line=4):
    path = tmp_path / "m.py"
    path.write_text(code_text)
    return Finding(str(path), line, 5, line, 18, "ARV201", Severity.CRITICAL, "blocking call", snippet)


def test_cache_key_follows_content_model_and_parameters(tmp_path):
    source = "import time\n\nasync def f():\n    time.sleep(1)\n"
    finding = _finding(tmp_path, source)
    base = build_item(finding, None, LLMSettings(), "3.9")
    assert base.shown_lines == {1, 3, 4}  # the import and the function
    assert "import time" in base.context["module_imports"]
    assert build_item(finding, None, LLMSettings(), "3.9").key == base.key
    assert build_item(finding, None, LLMSettings(model="claude-haiku-4-5"), "3.9").key != base.key
    assert build_item(finding, None, LLMSettings(max_tokens=99), "3.9").key != base.key
    assert build_item(finding, None, LLMSettings(temperature=0.5), "3.9").key != base.key
    assert build_item(finding, None, LLMSettings(), "3.12").key != base.key
    (tmp_path / "m.py").write_text(source.replace("sleep(1)", "sleep(2)"))
    assert build_item(finding, None, LLMSettings(), "3.9").key != base.key


def test_sdk_log_records_are_redacted(capsys):
    import logging
    import sys

    from asyncreview.llm.redact import redact, redact_logs

    key = "sk-ant-api03-UNITKEY-123456"
    logger = logging.getLogger("anthropic.unit-test")
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    try:
        redact_logs(key)
        try:
            raise ValueError(f"Illegal header value b'Bearer {key}'")
        except ValueError:
            logger.error("request failed for %s", key, exc_info=True)
        logger.error("another key sk-ant-admin01-SOMETHINGELSE")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "Traceback" in err and "Illegal header value" in err  # the record was shown ...
    assert "UNITKEY" not in err and "SOMETHINGELSE" not in err  # ... without the key
    assert redact(f"x {key} y", key) == "x *** y"


def test_review_cache_evicts_the_least_recently_used_first(tmp_path):
    import time

    from asyncreview.llm.cache import ReviewCache

    review = {"verdict": "confirmed", "severity": "WARNING", "explanation": "x", "suggested_fix": ""}
    cache = ReviewCache(tmp_path)
    cache.store.max_entries = 10
    try:
        cache.put_many({f"old-{n}": (review, {}) for n in range(10)})
        time.sleep(0.01)
        assert set(cache.get_many(["old-3"])) == {"old-3"}  # read again: useful
        time.sleep(0.01)
        cache.put_many({f"new-{n}": (review, {}) for n in range(5)})
        kept = set(cache.get_many([f"old-{n}" for n in range(10)] + [f"new-{n}" for n in range(5)]))
        assert len(kept) <= 10 and "old-3" in kept and {f"new-{n}" for n in range(5)} <= kept
        assert "old-0" not in kept
    finally:
        cache.close()


def test_review_cache_writes_in_groups_and_on_close(tmp_path):
    from asyncreview.llm.cache import ReviewCache

    review = {"verdict": "confirmed", "severity": "WARNING", "explanation": "x", "suggested_fix": ""}
    cache = ReviewCache(tmp_path)
    cache.put("first", review, {})
    assert cache.store.get_many(["first"]) == {}  # not written yet ...
    assert cache.get_many(["first"]) == {"first": review}  # ... but already served
    for n in range(ReviewCache.FLUSH_EVERY - 1):
        cache.put(f"k{n}", review, {})
    assert set(cache.store.get_many(["first", "k0"])) == {"first", "k0"}  # a full group is written
    cache.put("last", review, {})
    cache.close()
    reopened = ReviewCache(tmp_path)
    try:
        assert reopened.get_many(["first", "last"]) == {"first": review, "last": review}
    finally:
        reopened.close()


def test_the_reviewer_is_told_what_would_refute_a_rule_that_says_so():
    """The rule's catalogue text, `refuted_by` included, lives in the cached prefix."""
    from asyncreview.catalogue import rule_docs

    doc = rule_docs("correctness")["ARV506"]
    text = build_prefix(["ARV506"], {"ARV506": doc}, LLMSettings()).system[0]["text"]
    assert doc.refuted_by and "Refuted by: " + doc.refuted_by in text
    # a rule without one gets no empty line for it
    without = build_prefix(["ARV201"], {"ARV201": rule_docs("blocking")["ARV201"]}, LLMSettings()).system[0]["text"]
    assert "## ARV201" in without and "Refuted by" not in without


def test_the_prefix_holds_the_rules_of_the_run_first_and_pads_to_the_models_minimum():
    from asyncreview import plugins
    from asyncreview.llm.prompt import minimum_cacheable

    docs = {}
    for rule in plugins.all_rules():
        docs.update(rule.docs())
    haiku, sonnet = LLMSettings(model="claude-haiku-4-5"), LLMSettings(model="claude-sonnet-4-5")
    prefix = build_prefix(["ARV301", "ARV101"], docs, haiku)
    text = prefix.system[0]["text"]
    assert prefix.cacheable and prefix.tokens >= minimum_cacheable(haiku) == 4096
    assert text.index("## ARV101") < text.index("## ARV301") < text.index("## ARV102")  # the run's rules first
    assert "## ARV501" not in text  # padded only as far as the minimum needs
    assert prefix.notice("claude-haiku-4-5") is None
    assert build_prefix(["ARV301", "ARV101"], docs, haiku) == prefix  # stable: cacheable across requests
    assert build_prefix(["ARV101", "ARV301"], docs, sonnet).tokens < prefix.tokens  # a lower minimum, less padding
    assert minimum_cacheable(LLMSettings(model="claude-haiku-4-5-20251001")) == 4096
    assert minimum_cacheable(LLMSettings(model="some-new-model")) == 1024
    bare = build_prefix(["ARV101"], {}, sonnet)  # nothing to pad with: said, not silent
    assert not bare.cacheable and "prompt caching is off" in bare.notice("claude-sonnet-4-5")
    assert f"under the {bare.minimum}" in bare.notice("claude-sonnet-4-5")
