"""`--llm-batch`: the whole run through the Message Batches API (half the price, asynchronous).
Results come back by custom_id (the request's key); each finding's verdict lands in the same cache
as online reviews, under its own key.

A batch is billed whether or not anyone collects it, so its id is recorded in the cache folder
(llm/pending.py) as soon as it is created, with the findings each of its requests carries: a run
that is killed, times out in CI or was started with `--no-wait` leaves it there, and the next
`--llm-batch` run collects it instead of submitting the same findings again."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Set

from asyncreview.llm.orchestrator import Orchestrator, Stopped
from asyncreview.llm.prompt import TOOL_NAME, Item, Job
from asyncreview.llm.validate import tool_input

BATCH_DISCOUNT = 0.5
MAX_PER_BATCH = 10_000
UNANSWERED = ("errored", "canceled", "expired")  # result types that carry no review
PROGRESS_EVERY = 300.0  # seconds of waiting between two progress lines that report no change
COLLECT_LATER = "run `asyncreview --llm-batch` again to collect it (the API keeps results 29 days)"


def _quiet(text: str) -> None:
    pass


class _Batches:
    """The batches one run waits for: the ones an earlier run left and the ones it submits."""

    def __init__(self, llm: Orchestrator, needed: Dict[str, Item], results: Dict[str, Dict[str, Any]],
                 pending, say: Callable[[str], None], notices: List[str]) -> None:
        self.llm = llm
        self.needed = needed  # item key -> item, for the findings this run still needs a verdict on
        self.results = results
        self.pending = pending
        self.say = say
        self.notices = notices
        self.requests: Dict[str, Dict[str, List[str]]] = {}  # batch id -> custom_id -> its item keys, F1 first
        self.counts: Dict[str, Any] = {}  # batch id -> the last request counts said
        self.api = llm.client.messages.batches

    def unfinished_keys(self) -> Set[str]:
        return {key for requests in self.requests.values() for keys in requests.values() for key in keys}

    def _forget(self, batch_id: str) -> None:
        self.requests.pop(batch_id, None)
        if self.pending is not None:
            try:
                self.pending.remove(batch_id)
            except Exception:  # noqa: BLE001 - a stale record only costs one lookup next run
                pass

    async def submit(self, jobs: List[Job]) -> None:
        requests = [{"custom_id": job.key, "params": job.params} for job in jobs]  # keys are 64 hex digits
        self.llm.stats.sent_input_estimate += sum(job.estimated_input_tokens for job in jobs)
        batch = await self.llm.call(lambda: self.api.create(requests=requests))
        self.requests[batch.id] = {job.key: [item.key for item in job.items] for job in jobs}
        if self.pending is not None:  # first: from here on the batch is billed
            try:
                self.pending.add(batch.id, self.requests[batch.id])
            except Exception:  # noqa: BLE001 - the batch is still collected by this run
                self.notices.append(f"LLM batch {batch.id} could not be recorded in the cache folder; if this run is interrupted it cannot be collected")
        await self._settle(batch)

    async def adopt(self, batch_id: str, requests: Dict[str, List[str]]) -> None:
        """A batch an earlier run submitted: collected if it ended, else waited for."""
        self.requests[batch_id] = requests

        async def retrieve():
            try:
                return await self.api.retrieve(batch_id)
            except self.llm.anthropic.NotFoundError:
                return None

        batch = await self.llm.call(retrieve)
        if batch is None:
            self.notices.append(
                f"LLM batch {batch_id} from an earlier run is unknown to the API (deleted, or another key); "
                "forgotten, its findings are reviewed again"
            )
            self._forget(batch_id)
            return
        self.say(f"LLM batch {batch_id}: found from an earlier run, collecting it instead of submitting again")
        await self._settle(batch)

    async def _settle(self, batch: Any) -> None:
        self.counts[batch.id] = getattr(batch, "request_counts", None)
        if getattr(batch, "processing_status", None) == "ended":
            await self._collect(batch.id)

    async def poll(self, batch_id: str) -> None:
        batch = await self.llm.call(lambda: self.api.retrieve(batch_id))
        await self._settle(batch)

    def done_of_total(self) -> "tuple[int, int]":
        done = total = 0
        for batch_id in self.requests:
            counts = self.counts.get(batch_id)
            finished = sum(int(getattr(counts, kind, 0) or 0) for kind in ("succeeded",) + UNANSWERED)
            done += finished
            total += finished + int(getattr(counts, "processing", 0) or 0)
        return done, total

    async def _collect(self, batch_id: str) -> None:
        llm = self.llm
        decoder = await llm.call(lambda: self.api.results(batch_id))
        unanswered: Dict[str, int] = {}
        async for entry in decoder:
            key = getattr(entry, "custom_id", None)
            result = getattr(entry, "result", None)
            kind = getattr(result, "type", None)
            if kind != "succeeded":
                unanswered[str(kind)] = unanswered.get(str(kind), 0) + 1
                continue
            # The ids the model answers by are the request's positions (F1, F2, ...): its item keys
            # in order say which finding each is, also in a run that groups its findings otherwise.
            held = self.requests.get(batch_id, {}).get(key, [])
            ids = {f"F{index}": self.needed[item_key] for index, item_key in enumerate(held, start=1)
                   if item_key in self.needed and item_key not in self.results}
            if not ids:  # findings this run no longer has, or already reviewed
                continue
            message = result.message
            usage = llm.stats.add_usage(getattr(message, "usage", None), BATCH_DISCOUNT)
            self.results.update(llm.accept_ids(ids, tool_input(message, TOOL_NAME), usage))
            llm._done += len(ids)
            if llm.progress is not None:
                llm.progress(llm._done)
        if unanswered:
            what = ", ".join(f"{count} {kind}" for kind, count in sorted(unanswered.items()))
            self.notices.append(f"LLM batch {batch_id}: {what} request(s) came back without a review; those findings keep their local result")
        self._forget(batch_id)

    async def wait(self, poll_initial: float, poll_max: float, max_wait: float) -> None:
        delay, waited, said_at, last = poll_initial, 0.0, None, None
        while self.requests:
            counts = self.done_of_total()
            if counts != last or said_at is None or waited - said_at >= PROGRESS_EVERY:
                self.say(f"LLM batch {', '.join(self.requests)}: {counts[0]} of {counts[1]} requests done, waited {int(waited // 60)}m {int(waited % 60)}s")
                last, said_at = counts, waited
            if waited > max_wait:
                self.llm.stop(f"batch {', '.join(self.requests)} did not end within {max_wait:g}s")
                raise Stopped()
            if not await self.llm.nap(delay):
                raise Stopped()
            waited += delay
            delay = min(poll_max, delay * 2)
            for batch_id in list(self.requests):
                await self.poll(batch_id)


async def review_batch(
    llm: Orchestrator,
    jobs: List[Job],
    pending=None,
    wait: bool = True,
    say: Callable[[str], None] = _quiet,
    notices: Optional[List[str]] = None,
    poll_initial: float = 1.0,
    poll_max: float = 60.0,
    max_wait: float = 24 * 3600.0,
) -> Dict[str, Dict[str, Any]]:
    """Reviews by item key. `pending` (llm/pending.py) records batch ids across runs; without
    `wait`, the batches are submitted (or found still processing) and left for a later run."""
    notices = notices if notices is not None else []
    results, to_send = llm.uncached(jobs)
    needed: Dict[str, Item] = {item.key: item for job in to_send for item in job.items}
    batches = _Batches(llm, needed, results, pending, say, notices)
    expected: Set[str] = set()
    try:
        if pending is not None:
            for batch_id, record in pending.load().items():
                if needed.keys() & set(record["keys"]):  # it holds findings of this run
                    expected.update(record["keys"])
                    await batches.adopt(batch_id, record["requests"])
        in_flight = batches.unfinished_keys()
        rest = llm.narrowed(to_send, lambda key: key in results or key in in_flight)
        allowed, over_budget = _within_budget(llm, rest)
        if over_budget and llm.warning is None:  # said, not stopped: what fits is still sent and collected
            llm.warning = over_budget
        for start in range(0, len(allowed), MAX_PER_BATCH):
            chunk = allowed[start : start + MAX_PER_BATCH]
            expected.update(item.key for job in chunk for item in job.items)
            await batches.submit(chunk)
        if wait:
            await batches.wait(poll_initial, poll_max, max_wait)
    except Stopped:
        pass
    left = batches.unfinished_keys() & needed.keys()
    if left:
        later = COLLECT_LATER if pending is not None else "without the cache (--no-cache) no later run can collect it"
        notices.append(f"LLM batch {', '.join(batches.requests)} still processing: {len(left)} finding(s) keep their local result for now; {later}")
    llm.stats.failed += sum(1 for key in expected & needed.keys() if key not in results and key not in left)
    return results


def _within_budget(llm: Orchestrator, jobs: List[Job]) -> "tuple[List[Job], Optional[str]]":
    """The requests that fit the run's budgets, and why the rest do not."""
    allowed: List[Job] = []
    tokens_so_far, cost_so_far = 0, 0.0
    for job in jobs:
        limit = llm.settings.max_requests
        if limit is not None and len(allowed) >= limit:
            return allowed, f"stopped after max-requests = {limit}; the remaining findings keep their local result"
        tokens = llm.settings.max_input_tokens
        if tokens is not None and tokens_so_far + job.estimated_input_tokens > tokens:
            return allowed, f"stopped at the max-input-tokens = {tokens} budget; the remaining findings keep their local result"
        cost = llm.estimate_cost(job, BATCH_DISCOUNT)
        if llm.settings.max_cost_usd is not None and cost_so_far + cost > llm.settings.max_cost_usd:
            return allowed, f"stopped at the max-cost-usd = {llm.settings.max_cost_usd:g} budget; the remaining findings keep their local result"
        tokens_so_far += job.estimated_input_tokens
        cost_so_far += cost
        allowed.append(job)
    return allowed, None
