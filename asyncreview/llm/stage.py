"""The LLM stage as the CLI runs it: decide whether it runs, build one request per function (or
file) with all its findings, review
through the orchestrator (online or batch), attach `finding.review`, and say what it cost.

Everything here is light (the CLI imports it on every run): `asyncio`, `anthropic` and `rich` are
imported only once reviews are sent."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from asyncreview.llm.redact import malformed_key, redact
from asyncreview.llm.settings import LLMSettings
from asyncreview.untrusted import one_line

NO_KEY = (
    "LLM review skipped: set ANTHROPIC_API_KEY to have Claude review each finding "
    "(--llm or [tool.asyncreview.llm] enabled = true); the local report below is complete"
)


def llm_table(paths: List[Path], config_file: Optional[Path]) -> Dict[str, Any]:
    """The `llm` table of the config that governs the first path (or --config)."""
    from asyncreview import plugins
    from asyncreview.config import find_config, read_pyproject

    path = config_file or find_config((paths or [Path(".")])[0].absolute())
    if path is None:
        return {}
    options = {}
    for rule in plugins.all_rules():
        options.update(rule.options)
    config = read_pyproject(path, options)
    table = dict(config.get("llm") or {})
    if config.get("llm-may-hide") is not None:  # [tool.asyncreview] llm-may-hide; the llm table's wins
        table.setdefault("llm-may-hide", config.get("llm-may-hide"))
    return table


def summary_line(stats, batch: bool) -> str:
    mode = " (batch)" if batch else ""
    return (
        f"LLM review{mode}: {stats.findings} finding{'s' if stats.findings != 1 else ''}, "
        f"{stats.requests} request{'s' if stats.requests != 1 else ''}, {stats.cache_hits} cache hit{'s' if stats.cache_hits != 1 else ''}, "
        f"{stats.input_tokens + stats.cache_read_tokens + stats.cache_write_tokens} input "
        f"({stats.cache_write_tokens} cache write, {stats.cache_read_tokens} cache read) / {stats.output_tokens} output tokens, "
        + (f"~${stats.cost_usd:.4f}" if stats.price is not None else "cost unknown (no price for this model)")
        + (f", {stats.abandoned} timed out (cost estimated)" if stats.abandoned else "")
    )


class _Progress:
    """A rich progress bar on a terminal; nothing when stderr is piped."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if total and sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(transient=True, console=Console(stderr=True))
            self.task = self.bar.add_task("LLM review", total=total)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_stage(
    result,
    table: Dict[str, Any],
    *,
    batch: bool = False,
    wait: bool = True,
    use_cache: bool = True,
    verbose: bool = False,
    err=None,
) -> List[str]:
    """Attaches reviews to `result.findings`; returns notices (at most one warning)."""
    err = err or sys.stderr
    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        print(f"asyncreview: {NO_KEY}", file=err)
        return []
    if malformed_key(key):
        print("asyncreview: LLM review skipped: ANTHROPIC_API_KEY holds spaces or control characters; the local report below is complete", file=err)
        return []
    settings = LLMSettings.from_table(table)
    from asyncreview import plugins
    from asyncreview.llm.prompt import build_item, build_jobs, build_prefix

    docs = {}
    for rule in plugins.all_rules():
        try:
            docs.update(rule.docs())
        except (OSError, KeyError, ValueError):  # a rule pack without its catalogue still gets reviewed
            pass
    findings = [f for f in result.findings if not f.code.startswith("ARV0")]  # file diagnostics are facts
    if not findings:
        return []
    items = []
    for finding in findings:
        target = result.settings[finding.path].target_text if finding.path in result.settings else ""
        items.append(build_item(finding, docs.get(finding.code), settings, target))
    prefix = build_prefix((finding.code for finding in findings), docs, settings)
    jobs = build_jobs(items, prefix, settings)

    notices: List[str] = []
    cache = pending = None
    if use_cache:
        from asyncreview.config import cache_root
        from asyncreview.llm.cache import open_cache

        cache, problem = open_cache(cache_root())
        if problem:
            notices.append(problem)
        if batch:
            pending, problem = open_pending(cache_root())
            if problem:
                notices.append(problem)
    import asyncio

    from asyncreview.llm.orchestrator import Orchestrator

    def log(text: str) -> None:
        print(f"asyncreview: LLM: {one_line(redact(text, key))}", file=err)  # may quote the model

    llm = Orchestrator(settings, cache, api_key=key, log=log if verbose else None)
    try:
        with _Progress(len(items)) as progress:
            llm.progress = progress.update
            batch_options = {"pending": pending, "wait": wait, "notices": notices, "say": lambda text: print(f"asyncreview: {one_line(text)}", file=err)}
            reviews = asyncio.run(_review(llm, jobs, batch, batch_options))
    except Exception as error:  # noqa: BLE001 - the local report must survive any failure here
        reviews = {}
        llm.warning = f"internal error, reviews dropped: {type(error).__name__}: {redact(str(error), key)[:300]}"
    finally:
        if cache is not None:
            cache.close()
        if pending is not None:
            pending.close()
    for finding, item in zip(findings, items):
        review = reviews.get(item.key)
        if review is not None:
            apply_review(finding, review, settings)
            if review.get("fix_edits"):
                _check_model_fix(finding, item, result, plugins.all_rules())
    print(f"asyncreview: {summary_line(llm.stats, batch)}", file=err)
    if llm.stats.requests and prefix.notice(settings.model):  # once, and only when it cost something
        notices.append(f"LLM review: {prefix.notice(settings.model)}")
    if llm.warning:
        notices.append(redact(f"LLM review: {llm.warning}", key))
    elif llm.stats.failed or llm.stats.rejected:
        parts = []
        if llm.stats.failed:
            last = f" (last error: {llm.last_error})" if llm.last_error else ""
            parts.append(f"{llm.stats.failed} finding(s) could not be reviewed{last} and keep their local result")
        if llm.stats.rejected:
            parts.append(f"{llm.stats.rejected} answer(s) were not a valid review and count as uncertain")
        notices.append(redact("LLM review: " + "; ".join(parts), key))
    return notices


def apply_review(finding, review, settings: LLMSettings) -> None:
    """A confirmed finding takes the reviewer's grade (validated: at most one step from the
    rule's), so sorting, --fail-on and every format agree; the rule's own grade is kept. A
    refutation of a finding above `llm-may-hide` is marked disputed: it stays in the report and
    the exit code, so no model answer (nor a comment that talked the model into one) hides a
    real bug. Applied on every run, so cached reviews follow the current setting."""
    finding.review = dict(review)
    if review.get("verdict") == "false_positive" and not settings.may_hide(finding.severity.value):
        finding.review["disputed"] = True
    if review.get("verdict") == "confirmed" and review.get("severity") != finding.severity.value:
        from asyncreview.finding import Severity

        finding.review["rule_severity"] = finding.severity.value
        finding.severity = Severity(review["severity"])


def _check_model_fix(finding, item, result, rules) -> None:
    """The model's edits ride on the finding as an `unsafe` fix once verified (llm/verify.py);
    a rule's own fix wins. A dropped fix is a note in the review, never an error."""
    edits = finding.review.pop("fix_edits")
    if finding.fix is not None:
        finding.review["explanation"] += " [suggested fix not used: the rule's own fix applies]"
        return
    from asyncreview.llm.verify import verified_fix

    shown = item.context["enclosing_code"]
    location = result.locations.get(finding.path)
    file_settings = result.settings.get(finding.path)
    why = "the file could not be read again"
    fix = None
    if location is not None and file_settings is not None:
        try:
            data = location.read_bytes()
        except OSError:
            data = None
        if data is not None:
            fix, why = verified_fix(finding, edits, (shown["first_line"], shown["last_line"]), data, file_settings, rules)
    if fix is None:
        finding.review["explanation"] += f" [suggested fix dropped: {why}]"
    else:
        finding.fix = fix
        finding.review["fix_verified"] = True  # the fix is the reviewer's, checked by the rules


def open_pending(folder: Path):
    """The record of batches submitted and not yet collected (llm/pending.py), or why not."""
    from asyncreview.llm.pending import PendingBatches
    from asyncreview.store import StoreError

    try:
        return PendingBatches(folder), None
    except StoreError as error:
        return None, f"{error}; an interrupted batch cannot be collected by a later run"


async def _review(llm, jobs, batch: bool, batch_options: Dict[str, Any]):
    async with llm:
        if batch:
            from asyncreview.llm.batch import review_batch

            return await review_batch(llm, jobs, **batch_options)
        return await llm.review_all(jobs)


def wanted(flag: bool, table: Dict[str, Any]) -> bool:
    return flag or bool(table.get("enabled"))


def cache_command(clear: bool, out=None) -> int:
    """`--cache-stats` / `--clear-cache`: both caches (per-file results and LLM reviews)."""
    from asyncreview.config import cache_root
    from asyncreview.llm.cache import STORE_NAME
    from asyncreview.llm.pending import STORE_NAME as BATCHES_STORE
    from asyncreview.store import RESULTS_STORE, SignedStore, StoreError

    out = out or sys.stdout
    root = cache_root()
    for name in (RESULTS_STORE, STORE_NAME, BATCHES_STORE):
        try:
            store = SignedStore(root, name)
        except StoreError as error:
            print(f"asyncreview: {error}", file=sys.stderr)
            return 2
        try:
            if clear:
                store.clear()
                print(f"cleared {store.path}", file=out)
            else:
                stats = store.stats()
                print(f"{name}: {stats['entries']} entries, {stats['bytes']} bytes ({stats['path']})", file=out)
        finally:
            store.close()
    return 0
