"""The run: discover files, settle each file's settings, reuse cached results, analyze the rest
in a process pool, join project-wide facts, and apply suppressions."""

from __future__ import annotations

import hashlib
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from asyncreview import __version__, discovery, plugins
from asyncreview.config import (
    ConfigError,
    cache_root,
    FileConfig,
    Overrides,
    Settings,
    effective_settings,
    fail_threshold,
    is_relevant_pyproject,
    read_pyproject,
)
from asyncreview.engine import FileResult, analyze, diagnostic, finding_record
from asyncreview.finding import Finding, Severity, describe_error
from asyncreview.rule import ProjectSummaries
from asyncreview.peers import suppressed_by_peer
from asyncreview.source import is_suppressed

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024
_BATCH_BYTES = 256 * 1024
_INLINE_BYTES = 400 * 1024
_DEEP_STACK = 512 * 1024 * 1024


@dataclass
class RunOptions:
    paths: List[Path]
    overrides: Overrides = field(default_factory=Overrides)
    config_file: Optional[Path] = None
    use_cache: bool = True
    jobs: Optional[int] = None
    force_exclude: bool = False
    respect_gitignore: bool = True
    max_file_size: Optional[int] = None  # None: max-file-size from the file's config, else the default
    # Files' bytes as a fix pass left them, by display path, read instead of the disk (--diff,
    # and --fix until it writes): asyncreview.fixing.
    overlay: Dict[str, bytes] = field(default_factory=dict)


@dataclass
class RunResult:
    findings: List[Finding]
    files: List[str]
    parsed: int
    notices: List[str]
    threshold: Severity
    suppressed: int = 0
    cached: int = 0
    settings: Dict[str, Settings] = field(default_factory=dict)
    sources: Dict[str, FileResult] = field(default_factory=dict)
    locations: Dict[str, Path] = field(default_factory=dict)  # display path: the path to open
    # Bugs met on the way (a rule or reporter that raised), one line each: the run went on and
    # its report stands, but it ends with exit status 2, not as if it had found something.
    internal_errors: List[str] = field(default_factory=list)


class _Configs:
    """The config that governs each folder: the nearest relevant pyproject.toml at or above it."""

    def __init__(self, explicit: Optional[Path], overrides: Overrides) -> None:
        self.overrides = overrides
        self.by_folder: Dict[Path, FileConfig] = {}
        self.by_file: Dict[Optional[Path], FileConfig] = {}
        self.settings: Dict[int, Settings] = {}
        self.excluders: Dict[int, object] = {}
        self.rule_options = {}
        for rule in plugins.all_rules():
            self.rule_options.update(rule.options)
        self.codes = plugins.all_codes()
        self.explicit = self._load(explicit) if explicit else None
        self.default = FileConfig(root=Path.cwd())

    def _load(self, path: Path) -> FileConfig:
        if path not in self.by_file:
            self.by_file[path] = read_pyproject(path, self.rule_options)
        return self.by_file[path]

    def for_folder(self, folder: Path) -> FileConfig:
        if self.explicit is not None:
            return self.explicit
        found = self.by_folder.get(folder)  # as given first: absolute() asks the OS for the cwd
        if found is not None:
            return found
        given = folder
        folder = folder.absolute()
        found = self.by_folder.get(folder)
        if found is not None:
            self.by_folder[given] = found
            return found
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and is_relevant_pyproject(candidate):
            found = self._load(candidate)
        elif folder.parent == folder:
            found = self.default
        else:
            found = self.for_folder(folder.parent)
        self.by_folder[folder] = self.by_folder[given] = found
        return found

    def settings_for(self, config: FileConfig) -> Settings:
        key = id(config)
        if key not in self.settings:
            self.settings[key] = effective_settings(config, self.overrides, self.codes, self.rule_options)
        return self.settings[key]

    def excluder(self, folder: Path):
        config = self.for_folder(folder)
        key = id(config)
        if key not in self.excluders:
            patterns = list(config.get("exclude", [])) + list(config.get("extend-exclude", []))
            self.excluders[key] = discovery.make_excluder(config.root, patterns)
        return self.excluders[key]


RESULT_FORMAT = 2  # 2: findings carry their fixes


def _cache_key(data: bytes, settings: Settings, rules_id: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{__version__}|{RESULT_FORMAT}|{rules_id}|{settings.fingerprint()}|".encode())
    digest.update(data)
    return digest.hexdigest()


def _rules_id(rules) -> str:
    return ",".join(f"{r.__module__}.{r.__qualname__}" for r in rules)


# ---------------------------------------------------------------------------------------------
# Analysis on a deep stack, in a pool that survives a worker's death.

# concurrent.futures and multiprocessing are imported only when a pool is used: one file, as
# pre-commit runs it, never needs them (~40 ms of start-up).


class _DeepStack:
    """One thread with a big stack that runs calls one at a time. LibCST's native parser recurses
    on the C stack; a big thread stack turns would-be segfaults on legal-but-deep code into
    results."""

    def __init__(self) -> None:
        import queue

        self.pid = os.getpid()
        self.requests: "queue.SimpleQueue" = queue.SimpleQueue()
        previous = threading.stack_size()
        threading.stack_size(_DEEP_STACK)
        try:
            threading.Thread(target=self._serve, name="asyncreview-deep", daemon=True).start()
        finally:
            threading.stack_size(previous)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    def _serve(self) -> None:
        while True:
            function, args, box, ready = self.requests.get()
            try:
                box.append((True, function(*args)))
            except BaseException as error:  # noqa: BLE001 - handed back to the caller
                box.append((False, error))
            ready.set()

    def call(self, function, *args):
        box: list = []
        ready = threading.Event()
        self.requests.put((function, args, box, ready))
        ready.wait()
        ok, value = box[0]
        if ok:
            return value
        raise value


_deep: Optional[_DeepStack] = None


def _on_deep_stack(function, *args):
    """Run function(*args) on the deep-stack thread (a forked worker starts its own)."""
    global _deep
    if _deep is None or _deep.pid != os.getpid():
        _deep = _DeepStack()
    return _deep.call(function, *args)


def _analyze_batch(batch: List[Tuple[int, str, bytes, Settings]], defer: bool = True) -> List[Tuple[int, FileResult]]:
    """The whole batch in one call on the deep stack: each handover costs ~60 us."""
    return _on_deep_stack(_analyze_each, batch, defer)


def _analyze_each(batch: List[Tuple[int, str, bytes, Settings]], defer: bool) -> List[Tuple[int, FileResult]]:
    rules = plugins.all_rules()
    return [(index, _analyze_one(data, settings, rules, path, defer)) for index, path, data, settings in batch]


def _analyze_one(data: bytes, settings: Settings, rules, path: str, defer: bool) -> FileResult:
    """analyze() never raises for what a file holds; a bug (a plugin's prefilter that raises)
    costs this file an ARV003, not the run or the batch."""
    try:
        return analyze(data, settings, rules, path, defer)
    except Exception as error:  # noqa: BLE001 - reported, with its cause, and the run goes on
        return FileResult(findings=[diagnostic("ARV003", f"internal error: {describe_error(error)}")])


def _batches(items, limit: int) -> List[list]:
    batches, current, size = [], [], 0
    for item in items:
        current.append(item)
        size += len(item[2])
        if size >= limit:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _pool(jobs: int, share: int = 0):
    """A pool of `jobs` processes, each expected to analyze about `share` bytes."""
    import concurrent.futures
    import multiprocessing

    method = "fork" if sys.platform.startswith("linux") else None
    context = multiprocessing.get_context(method)
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                  initializer=_start_worker, initargs=(os.getpid(), share))


_PR_SET_PDEATHSIG = 1


def _start_worker(parent: int, share: int) -> None:
    """A worker ends when the run does, however the run ends: a run killed with SIGKILL cannot
    shut its pool down, and its workers would live on, reparented, until killed by hand."""
    from asyncreview.tree import expect_to_parse

    if not _kill_me_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), name="asyncreview-orphan-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was set
        os._exit(1)
    expect_to_parse(share)


def _kill_me_with_parent() -> bool:
    """Linux's PR_SET_PDEATHSIG: the kernel sends SIGKILL when the parent dies."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    """Elsewhere: notice being orphaned (the parent id changes) and exit."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


# Called with each batch's results; returns files to analyze in full as well.
Prefetch = Callable[[Dict[int, FileResult]], list]
# Called with each batch's results as they come, to keep them (the result cache).
Keep = Callable[[Dict[int, FileResult]], None]


class _Workers:
    """The analysis of a run's files and then of whatever its joins ask for, in one pool: a join
    round does not pay for a new pool and its warm-up."""

    def __init__(self, jobs: int, keep: Optional[Keep] = None) -> None:
        self.jobs = jobs
        self.keep = keep
        self.pool: Any = None

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def _worth_a_pool(self, size: int, files: int) -> bool:
        """Below this, starting workers costs more than the analysis they would share."""
        return self.jobs > 1 and size > _INLINE_BYTES and files >= 4

    def analyze(self, work: list, defer: bool = True, prefetch: Optional[Prefetch] = None) -> Dict[int, FileResult]:
        return self.stream([work], len(work), defer, prefetch)

    def stream(self, chunks: Iterable[list], expected: int, defer: bool = True,
               prefetch: Optional[Prefetch] = None) -> Dict[int, FileResult]:
        """The results of the files `chunks` yield (about `expected` of them): the pool starts on
        the first chunks while the caller reads the next. `prefetch` may add files to analyze in
        full while the pool has work."""
        chunks = iter(chunks)
        work: list = []
        size = 0
        more = True
        while more:
            chunk = next(chunks, None)
            if chunk is None:
                more = False
                break
            work.extend(chunk)
            size += sum(len(item[2]) for item in chunk)
            if self.pool is not None or self._worth_a_pool(size, len(work)):
                break
        if self.pool is None and not more and not self._worth_a_pool(size, len(work)):
            results = dict(_analyze_batch(work, defer))
            if self.keep is not None:
                self.keep(results)
            return results
        import concurrent.futures
        from concurrent.futures.process import BrokenProcessPool

        total = size * max(expected, len(work)) // max(len(work), 1)  # the bytes to expect in all
        if self.pool is None:
            self.pool = _pool(self.jobs, total // self.jobs)
        per_batch = max(16 * 1024, min(_BATCH_BYTES, total // (self.jobs * 8) or 1))
        running: Dict[Any, Tuple[list, bool]] = {}

        def submit(items: list, batch_defer: bool) -> None:
            for batch in _batches(items, per_batch):
                running[self.pool.submit(_analyze_batch, batch, batch_defer)] = (batch, batch_defer)

        results: Dict[int, FileResult] = {}
        failed: List[Tuple[tuple, bool]] = []
        submit(work, defer)
        while running or more:
            if more:  # read on; take whatever is done meanwhile
                chunk = next(chunks, None)
                if chunk is None:
                    more = False
                else:
                    submit(chunk, defer)
                done, _ = concurrent.futures.wait(running, timeout=0)
            else:
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            if not done:
                continue
            new: Dict[int, FileResult] = {}
            for future in done:
                batch, batch_defer = running.pop(future)
                try:
                    new.update(future.result())
                except BrokenProcessPool:
                    failed.extend((item, batch_defer) for item in batch)
                except Exception as error:  # noqa: BLE001 - report, never abort the run
                    for index, _, _, _ in batch:
                        new[index] = FileResult(findings=[diagnostic("ARV003", f"internal error: {describe_error(error)}")])
            results.update(new)
            if self.keep is not None:
                self.keep(new)
            if prefetch is not None and not failed:
                extra = prefetch(new)
                if extra:
                    submit(extra, False)
        if failed:
            self.pool.shutdown(wait=False)
            self.pool = None  # a broken pool takes no more work; the next round starts another
            redone = _isolate_crashes(failed)
            results.update(redone)
            if self.keep is not None:
                self.keep(redone)
        return results


def _isolate_crashes(items: List[Tuple[tuple, bool]]) -> Dict[int, FileResult]:
    """A dead worker breaks every batch in flight; redo those files one at a time so only the
    file that kills the process is lost."""
    from concurrent.futures.process import BrokenProcessPool

    results: Dict[int, FileResult] = {}
    pool = _pool(1)
    try:
        for item, defer in items:
            try:
                results.update(pool.submit(_analyze_batch, [item], defer).result())
            except BrokenProcessPool:
                message = "the parser crashed on this file (likely extreme nesting); it was skipped"
                results[item[0]] = FileResult(findings=[diagnostic("ARV001", message)])
                pool.shutdown(wait=False)
                pool = _pool(1)
    finally:
        pool.shutdown(wait=True)
    return results


# ---------------------------------------------------------------------------------------------


def run(options: RunOptions) -> RunResult:
    configs = _Configs(options.config_file, options.overrides)
    found = discovery.discover(
        options.paths, configs.excluder, force_exclude=options.force_exclude, respect_gitignore=options.respect_gitignore
    )
    rules = plugins.all_rules()
    rules_id = _rules_id(rules)
    notices: List[str] = list(found.warnings)
    internal_errors: List[str] = []
    findings: List[Finding] = []
    for problem in found.problems:
        findings.append(_with_path(diagnostic("ARV002", problem.reason), problem.path))

    entries = []  # (display path, path, config, settings)
    cwd = Path.cwd()
    for path in found.files:
        config = configs.for_folder(path.parent)
        entries.append((discovery.display_path(path, cwd), path, config, configs.settings_for(config)))
    threshold = fail_threshold(configs.explicit or (entries[0][2] if entries else configs.for_folder(Path.cwd())), options.overrides)
    assumed = {s.target_origin for _, _, _, s in entries if s.target_origin.startswith("assumed")}
    for _, _, _, settings in entries[:1]:
        if assumed:
            notices.append(f"no target Python found; assuming {settings.target_text}, the oldest CPython still supported (set target-version or requires-python)")

    store = None
    if options.use_cache:
        from asyncreview.store import RESULTS_STORE, SignedStore, StoreError

        try:
            store = SignedStore(cache_root(), RESULTS_STORE)
        except StoreError as error:
            notices.append(f"{error}; continuing without the result cache")

    results: Dict[int, FileResult] = {}
    keys: Dict[int, str] = {}
    items: Dict[int, tuple] = {}  # every file that may be analyzed, with its bytes
    waiting: Dict[int, tuple] = {}  # cached pending results: their bytes, in case a join asks
    cached = 0

    def misses() -> Iterator[list]:
        """The files to analyze, a chunk at a time, read and looked up in the cache: the pool
        starts on the first chunks while the rest are read."""
        nonlocal cached
        start, size = 0, 64
        while start < len(entries):
            chunk = []
            for index in range(start, min(start + size, len(entries))):
                shown, path, config, settings = entries[index]
                limit = options.max_file_size or config.get("max-file-size") or DEFAULT_MAX_FILE_SIZE
                try:
                    data = options.overlay[shown] if shown in options.overlay else discovery.read_regular(path, limit)
                except discovery.FileTooLarge as error:
                    message = f"skipped: too large ({error.size} bytes; max-file-size is {limit})"
                    results[index] = FileResult(findings=[diagnostic("ARV004", message)])
                    continue
                except OSError as error:
                    results[index] = FileResult(findings=[diagnostic("ARV002", f"cannot read file: {error.strerror or error}")])
                    continue
                keys[index] = _cache_key(data, settings, rules_id)
                chunk.append((index, shown, data, settings))
            start, size = start + size, min(size * 2, 1024)
            if store is not None and chunk:
                hits = store.get_many(keys[item[0]] for item in chunk)
                remaining = []
                for item in chunk:
                    entry = hits.get(keys[item[0]])
                    if entry is not None:
                        try:
                            result = results[item[0]] = FileResult.from_json(entry)
                            cached += 1
                            if result.pending:
                                waiting[item[0]] = items[item[0]] = item
                            continue
                        except (KeyError, TypeError, ValueError, AttributeError):  # foreign shape: a miss
                            pass
                    remaining.append(item)
                chunk = remaining
            items.update((item[0], item) for item in chunk)
            yield chunk

    jobs = options.jobs or os.cpu_count() or 1
    settings_by_path = {shown: settings for shown, _path, _config, settings in entries}
    index_of = {shown: index for index, (shown, _path, _config, _settings) in enumerate(entries)}
    keep = _Keeper(store, keys, notices) if store is not None else None
    with _Workers(jobs, keep) as workers:
        prefetch = _Prefetch(rules, index_of, settings_by_path, results, items)
        fresh = workers.stream(misses(), len(entries), prefetch=prefetch if prefetch.joining else None)
        results.update(fresh)
        waiting.update((index, items[index]) for index, result in fresh.items() if result.pending)
        for index in prefetch.sent:
            waiting.pop(index, None)

        by_path: Dict[str, FileResult] = {}
        for index, (shown, _path, _config, _settings) in enumerate(entries):
            by_path[shown] = results.get(index, FileResult())

        def complete(paths: Set[str]) -> None:
            """Analyze pending files a join asked for, in full."""
            items = [waiting.pop(index_of[path]) for path in sorted(paths) if index_of.get(path) in waiting]
            done = workers.analyze(items, defer=False)
            fresh.update(done)
            for path in paths:
                by_path[path] = done.get(index_of.get(path)) or FileResult()  # pending no more, whatever happens

        joined = _join(rules, by_path, settings_by_path, entries, keys, rules_id, store, notices, complete, internal_errors)
    if store is not None:
        store.close()
    for shown, result in by_path.items():
        findings.extend(_with_path(f, shown) for f in result.findings)
    findings.extend(joined)

    kept, suppressed = _suppress(findings, by_path, entries)
    kept.sort(key=Finding.sort_key)
    return RunResult(
        findings=kept,
        files=[e[0] for e in entries],
        parsed=sum(1 for r in by_path.values() if r.parsed),
        notices=notices,
        threshold=threshold,
        suppressed=suppressed,
        cached=cached,
        settings=settings_by_path,
        sources=by_path,
        locations={e[0]: e[1] for e in entries},
        internal_errors=internal_errors + _internal_errors(kept),
    )


class _Keeper:
    """Commits results to the cache as batches finish, not at the end: a run that is killed
    keeps what it analyzed, and the next run redoes only the rest."""

    def __init__(self, store, keys: Dict[int, str], notices: List[str]) -> None:
        """A result with an internal error is not kept: it says nothing about the file, and the
        next run (with the bug fixed) should analyze it again."""
        self.store = store
        self.keys = keys
        self.notices = notices

    def __call__(self, results: Dict[int, FileResult]) -> None:
        from asyncreview.store import StoreError

        if self.store is None:
            return
        kept = {self.keys[i]: r.to_json() for i, r in results.items() if i in self.keys and not any(f.code == "ARV003" for f in r.findings)}
        try:
            self.store.put_many(kept)
        except StoreError as error:
            self.notices.append(f"{error}; results were not cached")
            self.store = None  # one notice; the run goes on without writing


def _internal_errors(findings: List[Finding]) -> List[str]:
    return [f"{f.path}: {f.message}" for f in findings if f.code == "ARV003"]


def _join(rules, by_path: Dict[str, FileResult], settings_by_path: Dict[str, Settings], entries, keys: Dict[int, str],
          rules_id: str, store, notices: List[str], complete: Callable[[Set[str]], None],
          internal_errors: List[str]) -> List[Finding]:
    """Findings that need the whole project (ARV202 chains across modules). The same files with
    the same contents and settings join to the same findings, so those are cached too: a warm run
    then never decodes a summary. A join that reads a pending file's summary is run again once
    `complete` has analyzed what it read."""
    joining = _joining(rules, settings_by_path)
    if not joining:
        return []
    memo_key = None
    if store is not None:
        digest = hashlib.blake2b(f"join|{__version__}|{rules_id}".encode(), digest_size=20)
        for index, (shown, _path, _config, _settings) in enumerate(entries):
            # a display path holds the bytes of a name that is not UTF-8 as surrogates (os.fsdecode)
            digest.update(f"\0{shown}\0{keys.get(index, '-')}".encode("utf-8", "surrogateescape"))
        memo_key = "join-" + digest.hexdigest()
        hit = store.get_many([memo_key]).get(memo_key)
        if hit is not None:
            try:
                return [Finding.from_dict(f) for f in hit["findings"]]
            except (KeyError, TypeError, ValueError):  # another shape: join again
                pass
    while True:
        joined, problems, wanted = _join_once(joining, by_path, settings_by_path)
        if not wanted:
            break
        complete(wanted)
    notices.extend(problems)
    internal_errors.extend(problems)
    if memo_key is not None and not problems:
        from asyncreview.store import StoreError

        try:
            store.put_many({memo_key: {"findings": [finding_record(f) for f in joined]}})
        except StoreError:
            pass  # the file results were cached; this only saves the next run a join
    return joined


def _join_once(joining: list, by_path: Dict[str, FileResult],
               settings_by_path: Dict[str, Settings]) -> Tuple[List[Finding], List[str], Set[str]]:
    """One run of every joining rule: its findings, its problems, and the pending files it read."""
    joined: List[Finding] = []
    problems: List[str] = []
    wanted: Set[str] = set()
    for rule in joining:
        summaries = _summaries(rule.family, by_path)
        try:
            joined.extend(rule.project_findings(summaries, settings_by_path))
        except Exception as error:  # noqa: BLE001
            problems.append(f"internal error joining project facts in {rule.__name__}: {describe_error(error)}")
        wanted |= summaries.wanted
    return joined, problems, wanted


def _joining(rules, settings_by_path: Dict[str, Settings]) -> list:
    return [r for r in rules if r.joins_files() and any(code in s.enabled for s in settings_by_path.values() for code in r.codes)]


class _Prefetch:
    """Joins run early, on the results so far, while the pool still has files to analyze: the
    pending files they read are analyzed in full then, by the pool, instead of in join rounds
    after it is done (a cold run of 15,000 files spent 5% of its time in those). A file not
    analyzed yet counts as pending, and is analyzed in full if it comes back pending. The join
    rounds after the pool remain, for what this did not foresee: findings never depend on it."""

    MARKS = (0.5, 0.8, 1.0)  # fractions of the files analyzed at which to join early

    def __init__(self, rules, index_of: Dict[str, int], settings_by_path: Dict[str, Settings],
                 known: Dict[int, FileResult], items: Dict[int, tuple]) -> None:
        self.joining = _joining(rules, settings_by_path)
        self.settings_by_path = settings_by_path
        self.index_of = index_of  # display path -> index, in discovery order
        self.known = known  # from the cache (or unreadable), filled as the files are read
        self.items = items  # the files that may be analyzed (in full), filled as they are read
        self.results: Dict[int, FileResult] = {}
        self.marks = [max(1, math.ceil(len(index_of) * fraction)) for fraction in self.MARKS]
        self.asked: Set[int] = set()  # read by an early join before their result came
        self.sent: Set[int] = set()

    def __call__(self, new: Dict[int, FileResult]) -> list:
        self.results.update(new)
        extra = [index for index, result in new.items() if result.pending and index in self.asked]
        analyzed = len(self.results) + len(self.known)
        if self.marks and analyzed >= self.marks[0]:
            while self.marks and analyzed >= self.marks[0]:
                self.marks.pop(0)
            extra.extend(self._wanted())
        extra = sorted(set(extra) - self.sent)
        self.sent.update(extra)
        return [self.items[index] for index in extra]

    def _wanted(self) -> List[int]:
        """Files the join would read now: pending ones to analyze, unseen ones to watch for."""
        view = {path: self.results.get(index) or self.known.get(index) or _UNSEEN
                for path, index in self.index_of.items()}
        _, _, wanted = _join_once(self.joining, view, self.settings_by_path)  # the joins after the pool report problems
        found = []
        for path in wanted:
            index = self.index_of[path]
            if index not in self.results and index not in self.known:
                self.asked.add(index)
            elif index in self.items:
                found.append(index)
        return found


_UNSEEN = FileResult(pending=True)  # not analyzed yet


def _summaries(family: str, by_path: Dict[str, FileResult]) -> ProjectSummaries:
    """The family's summary of every file that has one, and the pending files, in discovery order."""
    at_hand: Dict[str, Any] = {}
    pending: List[str] = []
    paths: List[str] = []
    for path, result in by_path.items():
        if result.pending:
            pending.append(path)
        else:
            summary = result.summaries().get(family)
            if summary is None:
                continue
            at_hand[path] = summary
        paths.append(path)
    return ProjectSummaries(paths, at_hand, pending)


def _with_path(finding: Finding, path: str) -> Finding:
    finding.path = path
    return finding


def _suppress(findings: List[Finding], by_path: Dict[str, FileResult], entries) -> Tuple[List[Finding], int]:
    ignores_for: Dict[str, List[str]] = {}
    for shown, path, config, settings in entries:
        patterns = config.get("per-file-ignores") or {}
        if not patterns:
            continue
        try:
            relative = path.absolute().relative_to(config.root.absolute()).as_posix()
        except ValueError:
            relative = path.as_posix()
        codes = []
        for pattern, pattern_codes in patterns.items():
            if discovery.glob_spec((pattern,)).match_file(relative):
                codes.extend(pattern_codes)
        ignores_for[shown] = codes
    kept, suppressed = [], 0
    noqa_by_path = {
        shown: {line: (frozenset(codes) if codes is not None else None) for line, codes in result.noqa.items()}
        for shown, result in by_path.items()
        if result.noqa
    }
    for finding in findings:
        noqa = noqa_by_path.get(finding.path, {})
        lines = (finding.line, finding.statement_line or finding.line)
        if is_suppressed(noqa, lines, finding.code) or suppressed_by_peer(noqa, lines, finding) or any(finding.code.startswith(c) for c in ignores_for.get(finding.path, ())):
            suppressed += 1
            continue
        kept.append(finding)
    return kept, suppressed


def exit_code(result: RunResult, exit_zero: bool = False, show_refuted: bool = False) -> int:
    """2 after an internal error, even with --exit-zero (as ruff): CI must tell a crash from a
    finding. Findings the LLM reviewer refuted (at or below llm-may-hide) do not fail the run
    unless --show-refuted; a disputed refutation still does."""
    if result.internal_errors:
        return 2
    if exit_zero:
        return 0
    counted = [f for f in result.findings if show_refuted or not f.hidden_by_review]
    return 1 if any(f.severity.rank >= result.threshold.rank for f in counted) else 0


__all__ = ["run", "RunOptions", "RunResult", "ConfigError", "exit_code"]
