"""`--llm-batch`: the whole run through the Message Batches API (half the price, asynchronous).
Results come back by custom_id (the request's key) and each finding's verdict lands in the same cache as
online reviews."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from asyncreview.llm.orchestrator import Orchestrator, Stopped
from asyncreview.llm.prompt import TOOL_NAME, Job
from asyncreview.llm.validate import tool_input

BATCH_DISCOUNT = 0.5
MAX_PER_BATCH = 10_000


async def review_batch(
    llm: Orchestrator,
    jobs: List[Job],
    poll_initial: float = 1.0,
    poll_max: float = 60.0,
    max_wait: float = 24 * 3600.0,
) -> Dict[str, Dict[str, Any]]:
    results, pending = llm.uncached(jobs)
    allowed: List[Job] = []
    tokens_so_far, cost_so_far = 0, 0.0
    for job in pending:
        limit = llm.settings.max_requests
        if limit is not None and len(allowed) >= limit:
            llm.stop(f"stopped after max-requests = {limit}; the remaining findings keep their local result")
            break
        tokens = llm.settings.max_input_tokens
        if tokens is not None and tokens_so_far + job.estimated_input_tokens > tokens:
            llm.stop(f"stopped at the max-input-tokens = {tokens} budget; the remaining findings keep their local result")
            break
        cost = llm.estimate_cost(job, BATCH_DISCOUNT)
        if llm.settings.max_cost_usd is not None and cost_so_far + cost > llm.settings.max_cost_usd:
            llm.stop(f"stopped at the max-cost-usd = {llm.settings.max_cost_usd:g} budget; the remaining findings keep their local result")
            break
        tokens_so_far += job.estimated_input_tokens
        cost_so_far += cost
        allowed.append(job)
    for start in range(0, len(allowed), MAX_PER_BATCH):
        chunk = allowed[start : start + MAX_PER_BATCH]
        try:
            results.update(await _one_batch(llm, chunk, poll_initial, poll_max, max_wait))
        except Stopped:
            break
    llm.stats.failed += sum(1 for job in allowed for item in job.items if item.key not in results)
    return results


async def _one_batch(llm: Orchestrator, jobs: List[Job], poll_initial: float, poll_max: float, max_wait: float) -> Dict[str, Dict[str, Any]]:
    by_id = {job.key: job for job in jobs}  # keys are 64 hex digits: a valid custom_id
    requests = [{"custom_id": job.key, "params": job.params} for job in jobs]
    batches = llm.client.messages.batches
    llm.stats.sent_input_estimate += sum(job.estimated_input_tokens for job in jobs)
    batch = await llm.call(lambda: batches.create(requests=requests))
    delay, waited = poll_initial, 0.0
    while getattr(batch, "processing_status", None) != "ended":
        if waited > max_wait:
            llm.stop(f"batch {batch.id} did not end within {max_wait:g}s; its findings keep their local result")
            raise Stopped()
        if not await llm.nap(delay):
            raise Stopped()
        waited += delay
        delay = min(poll_max, delay * 2)
        batch = await llm.call(lambda: batches.retrieve(batch.id))
    decoder = await llm.call(lambda: batches.results(batch.id))
    found: Dict[str, Dict[str, Any]] = {}
    async for entry in decoder:
        job: Optional[Job] = by_id.get(getattr(entry, "custom_id", None))
        result = getattr(entry, "result", None)
        if job is None or getattr(result, "type", None) != "succeeded":
            continue
        message = result.message
        usage = llm.stats.add_usage(getattr(message, "usage", None), BATCH_DISCOUNT)
        found.update(llm.accept(job, tool_input(message, TOOL_NAME), usage))
        llm._done += len(job.items)
        if llm.progress is not None:
            llm.progress(llm._done)
    return found
