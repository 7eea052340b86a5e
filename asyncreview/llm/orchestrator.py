"""The LLM stage's engine: one AsyncAnthropic client, a semaphore, client-side rate limits
re-seeded from the API's headers, timeouts that work on 3.9, retries on transient errors only,
a circuit breaker, single flight for identical requests, and a run budget.

The SDK's own retries are switched off (max_retries=0) so ours are the only ones: stacked
retries multiply waiting and hide the failures the breaker needs to see."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from asyncreview.llm.prompt import TOOL_NAME, Item, Job, build_request
from asyncreview.llm.redact import redact_logs
from asyncreview.llm.settings import LLMSettings
from asyncreview.llm.validate import checked_reviews, tool_input


@dataclass
class Stats:
    findings: int = 0
    requests: int = 0
    cache_hits: int = 0
    reviewed: int = 0
    failed: int = 0
    rejected: int = 0  # answers that were not a valid review: recorded (and cached) as uncertain
    abandoned: int = 0  # requests that timed out: their estimated cost is counted as spent
    shared: int = 0  # findings answered by an identical request
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    sent_input_estimate: int = 0  # estimated input tokens of every request sent (retries too)
    price: Optional[Dict[str, float]] = None  # per million tokens, loaded before the loop runs; None: unknown model

    def add_usage(self, usage: Any, discount: float = 1.0) -> Dict[str, int]:
        counts = {
            "input_tokens": int(getattr(usage, "input_tokens", 0) or 0),
            "output_tokens": int(getattr(usage, "output_tokens", 0) or 0),
            "cache_creation_input_tokens": int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
            "cache_read_input_tokens": int(getattr(usage, "cache_read_input_tokens", 0) or 0),
        }
        self.input_tokens += counts["input_tokens"]
        self.output_tokens += counts["output_tokens"]
        self.cache_write_tokens += counts["cache_creation_input_tokens"]
        self.cache_read_tokens += counts["cache_read_input_tokens"]
        price = self.price or {"input": 0.0, "output": 0.0, "cache-write": 0.0, "cache-read": 0.0}
        self.cost_usd += discount * (
            counts["input_tokens"] * price["input"]
            + counts["output_tokens"] * price["output"]
            + counts["cache_creation_input_tokens"] * price["cache-write"]
            + counts["cache_read_input_tokens"] * price["cache-read"]
        ) / 1e6
        return counts


# ---------------------------------------------------------------------------------------------
# Client-side rate limits


class _Bucket:
    """Tokens per minute as a bucket refilled continuously; None means unlimited."""

    def __init__(self, per_minute: Optional[float], clock: Callable[[], float]) -> None:
        self.clock = clock
        self.limit = per_minute
        self.level = per_minute or 0.0
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        if self.limit:
            self.level = min(self.limit, self.level + (now - self.stamp) * self.limit / 60.0)
        self.stamp = now

    def wait(self, amount: float) -> float:
        if not self.limit:
            return 0.0
        self._refill()
        amount = min(amount, self.limit)  # one request larger than a minute's worth still goes
        return max(0.0, (amount - self.level) * 60.0 / self.limit)

    def take(self, amount: float) -> None:
        if self.limit:
            self._refill()
            self.level -= min(amount, self.limit)

    def give_back(self, amount: float) -> None:
        if self.limit:
            self._refill()
            self.level = min(self.limit, self.level + amount)

    def seed(self, limit: Optional[float], remaining: Optional[float]) -> None:
        if limit:
            self.limit = min(self.limit, limit) if self.limit else limit
        if remaining is not None and self.limit:
            self._refill()
            self.level = min(self.level, remaining)


def _number(headers: Any, name: str) -> Optional[float]:
    try:
        value = headers.get(name)
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def _seconds_until(headers: Any, name: str) -> Optional[float]:
    """anthropic-ratelimit-*-reset is an RFC 3339 time."""
    try:
        text = headers.get(name)
        if not text:
            return None
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
    except (TypeError, ValueError, AttributeError):
        return None


def retry_after(headers: Any) -> Optional[float]:
    try:
        value = headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


class RateLimiter:
    """Requests are spaced evenly (no burst: a configured 60/min means one a second); input and
    output tokens come out of per-minute buckets. The API's headers lower the limits and pause
    everyone when a quota is exhausted; retry-after pauses everyone too and slows requests down
    (halving their rate, down to one per MAX_PENALTY seconds) until successes win it back."""

    FIRST_PENALTY = 0.25  # seconds between requests after the first 429 of an unlimited run
    MAX_PENALTY = 1.0

    def __init__(self, settings: LLMSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.configured_interval = 60.0 / settings.requests_per_minute if settings.requests_per_minute else 0.0
        self.interval = self.configured_interval
        self.next_slot = clock()
        self.paused_until = 0.0
        self.penalty = 0.0  # the spacing that 429/529s with retry-after imposed
        self.input = _Bucket(settings.input_tokens_per_minute, clock)
        self.output = _Bucket(settings.output_tokens_per_minute, clock)
        self.lock: Optional[asyncio.Lock] = None

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def slow_down(self, retry_after: float) -> None:
        """Flow control, not an outage: once per pause (requests already in flight answer 429
        too), the spacing doubles."""
        if self.clock() >= self.paused_until:
            self.penalty = min(self.MAX_PENALTY, max(self.FIRST_PENALTY, 2 * self.penalty, 2 * self.interval))
        self.pause(retry_after)

    def recover(self) -> None:
        """A success gives back a little of the rate a 429 took."""
        self.penalty = self.penalty * 0.8 if self.penalty * 0.8 >= self.FIRST_PENALTY / 4 else 0.0

    def delay(self, input_tokens: float, output_tokens: float) -> float:
        now = self.clock()
        return max(
            self.paused_until - now,
            self.next_slot - now,
            self.input.wait(input_tokens),
            self.output.wait(output_tokens),
            0.0,
        )

    async def acquire(self, input_tokens: float, output_tokens: float, nap: Callable[[float], Awaitable[bool]]) -> bool:
        """Waits for a slot; False when the stage stopped meanwhile (nap returned False)."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:  # first come, first served: nobody overtakes a waiting request
            while True:
                wait = self.delay(input_tokens, output_tokens)
                if wait <= 0:
                    break
                if not await nap(wait):
                    return False
            now = self.clock()
            self.next_slot = max(now, self.next_slot) + max(self.interval, self.penalty)
            self.input.take(input_tokens)
            self.output.take(output_tokens)
            return True

    def settle(self, reserved_output: float, actual_output: float) -> None:
        if actual_output < reserved_output:
            self.output.give_back(reserved_output - actual_output)
        else:
            self.output.take(actual_output - reserved_output)

    def observe(self, headers: Any) -> None:
        if headers is None:
            return
        prefix = "anthropic-ratelimit-"
        limit = _number(headers, prefix + "requests-limit")
        if limit:
            self.interval = max(self.configured_interval, 60.0 / limit)
        for kind, bucket in (("requests", None), ("input-tokens", self.input), ("output-tokens", self.output)):
            remaining = _number(headers, f"{prefix}{kind}-remaining")
            if bucket is not None:
                bucket.seed(_number(headers, f"{prefix}{kind}-limit"), remaining)
            if remaining is not None and remaining <= 0:
                reset = _seconds_until(headers, f"{prefix}{kind}-reset")
                if reset is not None:
                    self.pause(min(reset, 120.0))


# ---------------------------------------------------------------------------------------------


class Stopped(Exception):
    pass


# How the stage treats a failed request. flow: the API's flow control (429/529 with retry-after):
# slow down and retry, never counted toward the circuit breaker. transient (5xx, 408, timeouts,
# connection errors): retried with backoff, and enough of them in a row trip the breaker.
# fatal (FATAL_STATUSES): the next request would fail the same way (bad request, key, permission,
# model, size): the stage ends at once with the API's message. failed: this request only.
ERROR_KINDS = ("flow", "transient", "fatal", "failed")
FLOW_CONTROL_STATUSES = frozenset({429, 529})
FATAL_STATUSES = frozenset({400, 401, 403, 404, 413})


def api_message(error: Any) -> str:
    """`HTTP 404 not_found_error: model: claude-x`, from the API's error body, on one line."""
    body = getattr(error, "body", None)
    detail = body.get("error") if isinstance(body, dict) else None
    kind = detail.get("type") if isinstance(detail, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else getattr(error, "message", "")
    text = "".join(char if char.isprintable() else " " for char in f"{kind or ''}: {message or ''}")
    text = " ".join(text.split()).strip(": ")
    status = getattr(error, "status_code", "?")
    return f"HTTP {status}" + (f" {text[:300]}" if text else "")


class Orchestrator:
    """`async with Orchestrator(settings, cache) as llm: reviews = await llm.review_all(jobs)`."""

    def __init__(
        self,
        settings: LLMSettings,
        cache=None,
        progress: Optional[Callable[[int], None]] = None,
        api_key: Optional[str] = None,
        breaker_threshold: int = 5,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 60.0,
        log: Optional[Callable[[str], None]] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], Awaitable[None]]] = None,
    ) -> None:
        """`clock` and `sleep` drive the limiter and every wait (tests pass a fake clock whose
        sleep advances it); by default, real time."""
        self.settings = settings
        self.cache = cache
        self.progress = progress
        self.api_key = api_key
        self.breaker_threshold = breaker_threshold
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.log = log
        self.stats = Stats(price=settings.prices())
        self.warning: Optional[str] = None
        self.limiter = RateLimiter(settings, clock)
        self.sleep = sleep
        self.consecutive_failures = 0
        self.throttled_since: Optional[float] = None  # first 429/529 since the last success
        self.last_error = ""
        self.reserved_cost = 0.0
        self._inflight: Dict[str, "asyncio.Future[Optional[Dict[str, Any]]]"] = {}
        self._abandoned: "set[asyncio.Future[Any]]" = set()
        self._done = 0

    async def __aenter__(self) -> "Orchestrator":
        import anthropic  # only here: the local report never pays for it

        self.anthropic = anthropic
        key = self.api_key if self.api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        redact_logs(key or "")  # ANTHROPIC_LOG=debug: the SDK's log records pass through redaction
        # Our asyncio.wait_for bounds each whole request; the SDK's (per read) timeout is only a
        # backstop, set later so that ours fires first and is reported as a timeout.
        self.client = anthropic.AsyncAnthropic(api_key=key, max_retries=0, timeout=self.settings.timeout * 1.5 + 1)
        self.semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        self.stop_event = asyncio.Event()
        return self

    async def __aexit__(self, *exc_info) -> None:
        abandoned = list(self._abandoned)
        for request in abandoned:  # the run is over: the client gives them up now
            request.cancel()
        if abandoned:
            await asyncio.gather(*abandoned, return_exceptions=True)
        await self.client.close()

    # -- stopping ------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def stop(self, why: str) -> None:
        if not self.stopped:
            self.warning = why
            self.stop_event.set()

    async def nap(self, seconds: float) -> bool:
        """Sleep, waking early when the stage stops; True when it may go on."""
        if self.stopped:
            return False
        if self.sleep is not None:
            await self.sleep(seconds)
            return not self.stopped
        try:
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return True
        return False

    # -- budget --------------------------------------------------------------------------------

    def estimate_cost(self, job: Job, discount: float = 1.0) -> float:
        """The shared prefix is priced as a cache write until one happened, then as a read."""
        price = self.stats.price
        if price is None:  # an unknown model: allowed only without a dollar budget
            return 0.0
        output = min(job.params["max_tokens"], 400 * len(job.items))
        prefix = min(job.prefix.tokens, job.estimated_input_tokens) if job.prefix.cacheable else 0
        written = self.stats.cache_write_tokens or self.stats.cache_read_tokens
        prefix_price = price["cache-read"] if written else price["cache-write"]
        return discount * (
            prefix * prefix_price + (job.estimated_input_tokens - prefix) * price["input"] + output * price["output"]
        ) / 1e6

    def budget_allows(self, job: Job, discount: float = 1.0) -> bool:
        """Checked right before a request is counted, with no await in between, so concurrent
        requests cannot all slip past the same last unit of budget."""
        limit = self.settings.max_requests
        if limit is not None and self.stats.requests >= limit:
            self.stop(f"stopped after max-requests = {limit}; the remaining findings keep their local result")
            return False
        tokens = self.settings.max_input_tokens
        if tokens is not None and self.stats.sent_input_estimate + job.estimated_input_tokens > tokens:
            self.stop(f"stopped at the max-input-tokens = {tokens} budget; the remaining findings keep their local result")
            return False
        budget = self.settings.max_cost_usd
        if budget is not None and self.stats.cost_usd + self.reserved_cost + self.estimate_cost(job, discount) > budget:
            self.stop(f"stopped at the max-cost-usd = {budget:g} budget; the remaining findings keep their local result")
            return False
        return True

    # -- one call, with retries ----------------------------------------------------------------

    def _classify(self, error: BaseException) -> Tuple[str, Optional[float], str]:
        """(kind, retry-after seconds, what the API said); kinds are in ERROR_KINDS."""
        anthropic = self.anthropic
        if isinstance(error, asyncio.TimeoutError):
            return "transient", None, f"timed out after {self.settings.timeout:g}s"
        if isinstance(error, anthropic.APIStatusError):
            status = error.status_code
            headers = getattr(error.response, "headers", None)
            self.limiter.observe(headers)
            wait = retry_after(headers)
            what = api_message(error)
            if status in FLOW_CONTROL_STATUSES and wait is not None:
                return "flow", wait, what
            if status in FATAL_STATUSES:
                return "fatal", None, what
            if status == 408 or status == 429 or status >= 500:
                return "transient", wait, what
            return "failed", None, what
        if isinstance(error, anthropic.APIConnectionError):
            return "transient", None, "connection failed"
        return "failed", None, type(error).__name__

    async def call(self, make: Callable[[], Awaitable[Any]], job: Optional[Job] = None, reserve_output: float = 0.0) -> Any:
        """Runs `make()` under the cap, the limits and the timeout; retries as ERROR_KINDS says,
        with jittered backoff. Raises Stopped when the stage stops or the request gives up."""
        for attempt in range(self.max_attempts):
            if self.stopped:
                raise Stopped()
            await self.semaphore.acquire()
            slot_held = True
            try:
                estimate = job.estimated_input_tokens if job else 0
                if self.stopped or not await self.limiter.acquire(estimate, reserve_output, self.nap):
                    raise Stopped()
                if self.stopped or (job is not None and not self.budget_allows(job)):
                    raise Stopped()
                self.stats.requests += 1
                self.stats.sent_input_estimate += estimate
                cost = self.estimate_cost(job) if job else 0.0
                self.reserved_cost += cost
                request = asyncio.ensure_future(make())
                try:
                    result = await asyncio.wait_for(asyncio.shield(request), timeout=self.settings.timeout)
                except asyncio.TimeoutError as error:
                    self._abandon(request, cost)
                    slot_held = False  # the abandoned request gives the slot back when it ends
                    failure = error
                except self.anthropic.APIError as error:
                    self.reserved_cost -= cost
                    failure = error
                except asyncio.CancelledError:  # the run itself is ending: so does the request
                    request.cancel()
                    self.reserved_cost -= cost
                    raise
                else:
                    self.reserved_cost -= cost
                    self.consecutive_failures = 0
                    self.throttled_since = None
                    self.limiter.recover()
                    return result
            finally:
                if slot_held:
                    self.semaphore.release()
            kind, wait_hint, what = self._classify(failure)
            self.last_error = what
            self._log(f"request failed: {what}" + ("" if kind in ("flow", "transient") else " (not retried)"))
            if kind == "fatal":
                self.stop(f"the API refused the request ({what}); stopped reviewing, every finding keeps its local result")
                raise Stopped()
            if kind == "failed":
                raise Stopped()
            if kind == "transient":
                self.consecutive_failures += 1
                if self.consecutive_failures >= self.breaker_threshold:
                    self.stop(
                        f"the LLM API failed {self.consecutive_failures} times in a row (last: {what}); "
                        "stopped reviewing, unreviewed findings keep their local result"
                    )
                    raise Stopped()
            if kind == "flow":  # flow control has no breaker, but an endless one is an outage
                now = self.limiter.clock()
                self.throttled_since = now if self.throttled_since is None else self.throttled_since
                if now - self.throttled_since > self.max_retry_after:
                    self.stop(f"the API kept asking to wait for {now - self.throttled_since:.0f}s without one answer (last: {what}); stopped reviewing")
                    raise Stopped()
            if wait_hint is not None:
                if wait_hint > self.max_retry_after:
                    self.stop(f"the API asked to wait {wait_hint:g}s ({what}); stopped reviewing")
                    raise Stopped()
                if kind == "flow":
                    self.limiter.slow_down(wait_hint)
                else:
                    self.limiter.pause(wait_hint)
                delay = wait_hint * random.uniform(1.0, 1.2)
            else:
                delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
            if attempt + 1 < self.max_attempts:
                self._log(f"retry {attempt + 2} of {self.max_attempts} in {delay:.1f}s")
            else:
                self._log(f"gave up after {self.max_attempts} attempts")
            if attempt + 1 < self.max_attempts and not await self.nap(delay):
                raise Stopped()
        raise Stopped()

    def _abandon(self, request: "asyncio.Future[Any]", cost: float) -> None:
        """A request we stopped waiting for goes on at the server: it keeps its concurrency slot
        until the client gives it up (its reply, the SDK's own timeout, or the stage's end), and
        its estimated cost is spent, since the server may well have done the work."""
        self._abandoned.add(request)

        def given_up(task: "asyncio.Future[Any]") -> None:
            self._abandoned.discard(task)
            if not task.cancelled():
                task.exception()  # retrieved: a late failure is expected, not an unhandled error
            self.semaphore.release()
            self.reserved_cost -= cost
            self.stats.cost_usd += cost
            self.stats.abandoned += 1

        request.add_done_callback(given_up)

    def _log(self, text: str) -> None:
        if self.log is not None:
            self.log(text)

    # -- reviews -------------------------------------------------------------------------------

    async def _review(self, job: Job) -> Optional[Dict[str, Dict[str, Any]]]:
        reserve = min(job.params["max_tokens"], 400 * len(job.items))

        params = dict(job.params)
        extra = {"temperature": params.pop("temperature")} if "temperature" in params else None

        async def make():
            return await self.client.messages.with_raw_response.create(**params, extra_body=extra)

        try:
            raw = await self.call(make, job, reserve_output=reserve)
        except Stopped:
            self.stats.failed += len(job.items)
            return None
        self.limiter.observe(raw.headers)
        try:
            message = raw.parse()
            if inspect.isawaitable(message):  # SDK 2.x; 0.x returns the message directly
                message = await message
        except Exception as error:  # noqa: BLE001 - an unreadable body is an unreviewed finding, not a crash
            self.last_error = f"unreadable reply: {type(error).__name__}"
            self._log(self.last_error)
            self.stats.failed += len(job.items)
            return None
        usage = self.stats.add_usage(getattr(message, "usage", None))
        self.limiter.settle(reserve, usage["output_tokens"])
        return self.accept(job, tool_input(message, TOOL_NAME), usage)

    def accept(self, job: Job, raw_input: Any, usage: Optional[Dict[str, int]]) -> Dict[str, Dict[str, Any]]:
        return self.accept_ids(job.ids, raw_input, usage)

    def accept_ids(self, ids: Dict[str, Item], raw_input: Any, usage: Optional[Dict[str, int]]) -> Dict[str, Dict[str, Any]]:
        """Reviews by item key: every finding of `ids` (the request's finding id -> item) gets one
        (a missing or malformed verdict is "uncertain"), cached under its own key with its share
        of the usage."""
        checked = checked_reviews(raw_input, {fid: (item.default_severity, item.shown_lines) for fid, item in ids.items()})
        share = {name: count // len(ids) for name, count in (usage or {}).items()}
        reviews = {}
        for finding_id, item in ids.items():
            review, accepted = checked[finding_id]
            reviews[item.key] = review
            self.stats.reviewed += 1
            if not accepted:
                self.stats.rejected += 1
                self._log(f"answer rejected for {item.record['rule']} at line {item.record['line']}, recorded as uncertain: {review['explanation']}")
            if self.cache is not None:  # a rejected answer too: asking again would cost the same again
                try:
                    self.cache.put(item.key, review, share)
                except Exception:  # noqa: BLE001 - a cache that cannot be written only costs a request
                    pass
        return reviews

    async def review(self, job: Job) -> Optional[Dict[str, Dict[str, Any]]]:
        """Identical requests share one call, even when they are in flight at the same time."""
        future = self._inflight.get(job.key)
        if future is None:
            future = asyncio.ensure_future(self._review(job))
            self._inflight[job.key] = future
        else:
            self.stats.shared += len(job.items)
        result = await asyncio.shield(future)
        self._done += len(job.items)
        if self.progress is not None:
            self.progress(self._done)
        return result

    def cached(self, jobs: List[Job]) -> Dict[str, Dict[str, Any]]:
        """Cached reviews by item key (each finding counts as a hit once)."""
        keys = {item.key for job in jobs for item in job.items}
        if self.cache is None:
            return {}
        try:
            hits = self.cache.get_many(keys)
        except Exception:  # noqa: BLE001
            return {}
        self.stats.cache_hits += sum(1 for job in jobs for item in job.items if item.key in hits)
        return hits

    def uncached(self, jobs: List[Job]) -> "Tuple[Dict[str, Dict[str, Any]], List[Job]]":
        """(cached reviews, the requests still to send): a request some of whose findings are
        cached is rebuilt with the others only; one whose findings are all cached is not sent."""
        self.stats.findings += sum(len(job.items) for job in jobs)
        results = self.cached(jobs)
        pending = self.narrowed(jobs, results.__contains__)
        self._done = sum(len(job.items) for job in jobs) - sum(len(job.items) for job in pending)
        if self.progress is not None and self._done:
            self.progress(self._done)
        return results, pending

    def narrowed(self, jobs: List[Job], settled: Callable[[str], bool]) -> List[Job]:
        """The requests still to send once the items whose key is `settled` are left out: a
        request that lost some is rebuilt with the others, one that lost all is dropped."""
        narrowed = []
        for job in jobs:
            remaining = [item for item in job.items if not settled(item.key)]
            if len(remaining) == len(job.items):
                narrowed.append(job)
            elif remaining:
                narrowed.append(build_request(remaining, job.prefix, self.settings))
        return narrowed

    async def review_all(self, jobs: List[Job]) -> Dict[str, Dict[str, Any]]:
        """Reviews by item key; an item without an entry was not reviewed (stopped or failed).
        With a cacheable prefix the first request goes alone: the ones after it read the
        prefix it wrote instead of each writing it again."""
        results, pending = self.uncached(jobs)
        if len(pending) > 1 and pending[0].prefix.cacheable:
            answers = [await self.review(pending[0])]
            answers += await asyncio.gather(*(self.review(job) for job in pending[1:]))
        else:
            answers = await asyncio.gather(*(self.review(job) for job in pending))
        for answer in answers:
            results.update(answer or {})
        return results
