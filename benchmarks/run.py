"""asyncreview against its peers on the same files, in one run: cold and warm asyncreview, plain
LibCST parsing (1 and N processes), ruff's ASYNC rules, flake8 + flake8-async (on a subsample),
and one small file as pre-commit runs it. Prints times, lines per second, ratios, peak memory and
whether each target is met; writes everything as JSON.

    python -m benchmarks [--subset aiohttp,httpx] [--quick] [--json-out FILE]

Every tool runs in its own subprocess; each timing is the best of --repeat runs (the machine is
shared), the one-file timing is the median of --single-repeat runs.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from benchmarks import corpus

HERE = Path(__file__).resolve().parent
# Appended to the one small file for the `--fix` run that applies a fix (ARV201's safe
# `time.sleep` -> `await asyncio.sleep`): the fixing hook's case when it has work to do.
FIXABLE_EDIT = "\nimport time\n\n\nasync def _benchmark_edit_{number}():\n    time.sleep({number})\n"
BIN = Path(sys.executable).parent

# Targets from issue 8: (name, measured ratio key, limit, description).
TARGETS = (
    # The reading: plain parsing is its loop over every file (it quotes lines/s per core),
    # and lists "use every core" as a way to beat it. The stricter reading is printed too.
    ("cold_vs_libcst_1", "<=", 1.0, "cold run <= 1.0x plain LibCST parsing of every file (one process)"),
    ("cold_vs_libcst_pool", "<=", 1.0, "stricter: cold run <= 1.0x LibCST parsing on as many processes"),
    ("flake8_speedup", ">=", 20.0, ">= 20x faster than flake8 + flake8-async (same subsample)"),
    ("warm_vs_ruff_cold", "<=", 3.0, "warm run <= 3x ruff's cold time"),
    ("single_vs_flake8", "<=", 0.5, "one small file <= 0.5x flake8 + flake8-async"),
    # Issue 21: pre-commit's fixing hook, on the same file with a fix to apply and write.
    ("single_fix_vs_flake8", "<=", 0.5, "one small file with --fix (a fix applied) <= 0.5x flake8 + flake8-async"),
    ("peak_memory_mib", "<", 1024.0, "peak memory of the cold run (all processes) < 1 GiB"),
)


# --------------------------------------------------------------------------------------------
# Running one command and measuring it.


def _tool(name: str) -> Optional[str]:
    beside = BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


def _tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over `root` and its descendants (Linux /proc; 0 elsewhere)."""
    children: Dict[int, List[int]] = {}
    rss: Dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                ppid = kib = 0
                for line in handle:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        kib = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry)
        rss[pid] = kib
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def measure(command: Sequence[str], cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
            stdout: Optional[Path] = None, sample_memory: bool = False) -> Dict[str, Any]:
    """Wall time, exit code, the largest single process's max RSS (wait4 covers the children it
    reaped, e.g. pool workers) and, when sampled, the peak summed RSS of the whole process tree."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    start = time.perf_counter()
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))
            done.wait(0.05)

    thread = threading.Thread(target=sampler, daemon=True) if sample_memory else None
    if thread:
        thread.start()
    stderr = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    if thread:
        thread.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()
    if process.stderr:
        process.stderr.close()
    result = {
        "seconds": elapsed,
        "returncode": process.returncode,
        "maxrss_mib": usage.ru_maxrss / 1024.0,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    if sample_memory:
        result["tree_peak_mib"] = peak[0] / 1024.0
    if process.returncode != 0:
        result["stderr"] = stderr.decode("utf-8", "replace")[-2000:]
    return result


def interleaved(repeat: int, measurements: Dict[str, Callable[[], Dict[str, Any]]],
                log: Callable[[str], None]) -> Dict[str, Dict[str, Any]]:
    """Every measurement once per round, `repeat` rounds, the best run of each counts. Rounds,
    not one tool's runs back to back: a machine that slows down for a minute (a shared VM does)
    then slows a run of each tool, not every run of one, and the ratios stay true."""
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in measurements}
    for number in range(max(1, repeat)):
        for name, run in measurements.items():
            log(f"round {number + 1}/{max(1, repeat)}: {name} ...")
            runs[name].append(run())
    return {name: _best(found) for name, found in runs.items()}


def _best(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    best = min(runs, key=lambda r: r["seconds"])
    summary = dict(best)
    summary["runs"] = [round(r["seconds"], 4) for r in runs]
    summary["maxrss_mib"] = max(r["maxrss_mib"] for r in runs)
    if any("tree_peak_mib" in r for r in runs):
        summary["tree_peak_mib"] = max(r.get("tree_peak_mib", 0.0) for r in runs)
    summary["failed"] = sum(1 for r in runs if r["returncode"] != 0)
    return summary


# --------------------------------------------------------------------------------------------
# Plain LibCST parsing: the floor a LibCST-based analyzer is measured against.


def _parse_one(path: str) -> int:
    import libcst

    data = Path(path).read_bytes()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        libcst.parse_module(data.decode(encoding))
        return 1
    except Exception:  # noqa: BLE001 - a file LibCST rejects still cost the parse
        return 0


def parse_worker(list_file: str, jobs: int) -> int:
    """`python -m benchmarks.run --parse-worker LIST --jobs N`: parse every listed file."""
    import libcst  # noqa: F401 - imported before forking, as asyncreview does

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    paths = Path(list_file).read_text(encoding="utf-8").splitlines()
    if jobs <= 1:
        parsed = sum(map(_parse_one, paths))
    else:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parsed = sum(pool.imap_unordered(_parse_one, paths, chunksize=16))
    print(json.dumps({"parsed": parsed, "files": len(paths)}))
    return 0


# --------------------------------------------------------------------------------------------


def _sample(files: List[Path], lines_by_file: Dict[Path, int], target_lines: int) -> List[Path]:
    """Every k-th file, so the subsample spans every package, up to about target_lines."""
    total = sum(lines_by_file.values())
    if total <= target_lines:
        return list(files)
    step = max(1, round(total / target_lines))
    return files[::step]


def _small_file(files: List[Path], lines_by_file: Dict[Path, int]) -> Optional[Path]:
    """A typical small module a commit touches: async code, 40-120 lines."""
    candidates = [f for f in files if 40 <= lines_by_file[f] <= 120 and b"async def" in f.read_bytes()]
    candidates = candidates or [f for f in files if lines_by_file[f] > 0] or files
    return candidates[len(candidates) // 2] if candidates else None


def _lines(path: Path) -> int:
    return corpus.count_lines([path])


def registered_rules() -> List[Dict[str, Any]]:
    from asyncreview import plugins

    return [{"rule": f"{r.__module__}.{r.__qualname__}", "codes": list(r.codes)} for r in plugins.all_rules()]


def _compile_own_bytecode() -> None:
    """The peers start from the bytecode pip compiled when it installed them; so does an installed
    asyncreview. An editable install under PYTHONDONTWRITEBYTECODE (this machine sets it) would
    compile its ~30 modules again on every start (~70 ms), which no user pays: write it once."""
    import asyncreview

    compileall.compile_dir(str(Path(asyncreview.__file__).parent), quiet=1)


def _env(cache: Path) -> Dict[str, str]:
    env = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(cache), NO_COLOR="1")
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def _asyncreview_files(report: Path) -> Dict[str, Any]:
    try:
        summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
        return {"files": summary["files"], "parsed": summary["parsed"], "cached": summary["cached"],
                "findings": summary["findings"]}
    except (OSError, ValueError, KeyError):
        return {}


def run_benchmarks(args: argparse.Namespace) -> Dict[str, Any]:
    root = Path(args.corpus).resolve() if args.corpus else corpus.ensure_corpus()
    subset = [s for s in args.subset.split(",") if s] if args.subset else None
    files = corpus.corpus_files(root, subset)
    if not files:
        raise SystemExit(f"no .py files under {root} (subset {subset})")
    lines_by_file = {f: _lines(f) for f in files}
    total_lines = sum(lines_by_file.values())
    relative = [str(f.relative_to(root)) for f in files]
    repeat = 1 if args.quick else args.repeat
    single_repeat = 3 if args.quick else args.single_repeat
    jobs = args.jobs
    python = sys.executable
    asyncreview = _tool("asyncreview") or "asyncreview"
    ruff = _tool("ruff")
    flake8 = _tool("flake8")

    _compile_own_bytecode()
    work = Path(tempfile.mkdtemp(prefix="asyncreview-bench-"))
    results: Dict[str, Any] = {}
    log = (lambda *a: None) if args.json_only else (lambda *a: print(*a, file=sys.stderr, flush=True))
    try:
        listing = work / "files.txt"
        listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
        base = [asyncreview, "--exit-zero", "--format", "json", "--jobs", str(jobs)]

        def ours(name: str, paths: List[str], cache: Path, extra: Sequence[str] = (),
                 memory: bool = False) -> Callable[[], Dict[str, Any]]:
            def run() -> Dict[str, Any]:
                report = work / f"{name}.json"
                result = measure([*base, *extra, "-o", str(report), *paths], cwd=root, env=_env(cache),
                                 sample_memory=memory)
                result.update(_asyncreview_files(report))
                return result
            return run

        def tool(command: Sequence[str], cwd: Path) -> Callable[[], Dict[str, Any]]:
            return lambda: measure(command, cwd=cwd, sample_memory=True)

        log(f"corpus: {len(files)} files, {total_lines:,} lines ({root})")
        if not args.single_only:
            log("asyncreview filling the cache (once, before the warm runs) ...")
            results["asyncreview_fill"] = _best([ours("fill", relative, work / "cache", memory=True)()])
        worker = [python, "-m", "benchmarks.run", "--parse-worker", str(listing)]
        sample = _sample(files, lines_by_file, args.flake8_lines)
        sample_rel = [str(f.relative_to(root)) for f in sample]
        sample_lines = sum(lines_by_file[f] for f in sample)
        log(f"flake8 subsample: {len(sample)} files ({sample_lines:,} lines)")
        # Each pair whose ratio is a target runs back to back within a round.
        measurements: Dict[str, Callable[[], Dict[str, Any]]] = {
            "asyncreview_cold": ours("cold", relative, work / "cache-none", ["--no-cache"], memory=True),
            "libcst_parse_1": tool([*worker, "--jobs", "1"], HERE.parent),
            "libcst_parse_pool": tool([*worker, "--jobs", str(jobs)], HERE.parent),
            "asyncreview_warm": ours("warm", relative, work / "cache", memory=True),
        }
        if ruff:
            measurements["ruff_cold"] = tool(
                [ruff, "check", "--isolated", "--no-cache", "--select", "ASYNC", "--exit-zero", "-q", *relative], root)
        if flake8:
            measurements["flake8_sample"] = tool(
                [flake8, "--isolated", "--select", "ASYNC", "--exit-zero", "-j", str(jobs), *sample_rel], root)
            measurements["asyncreview_cold_sample"] = ours("sample", sample_rel, work / "cache-none", ["--no-cache"])
        if not args.single_only:
            results.update(interleaved(repeat, measurements, log))

        small = _small_file(files, lines_by_file)
        if small is not None:
            log(f"one small file ({lines_by_file[small]} lines) ...")
            folder = work / "single"
            folder.mkdir()
            target = folder / "module.py"
            text = small.read_bytes()
            cache = work / "cache-single"
            # Warm up the cache database once, then change the file before every run: a commit
            # only ever hands pre-commit files whose cached results are stale.
            target.write_bytes(text)
            measure([asyncreview, "--exit-zero", "-q", str(target)], env=_env(cache))
            ours_runs, flake8_runs, fix_runs, fixing_runs = [], [], [], []
            fixes_applied = 0
            for number in range(single_repeat):
                edited = text + f"\n# edit {number}\n".encode()
                target.write_bytes(edited)
                ours_runs.append(measure([asyncreview, "--exit-zero", "-q", str(target)], env=_env(cache)))
                if flake8:
                    flake8_runs.append(measure([flake8, "--isolated", "--select", "ASYNC", "--exit-zero", str(target)]))
                # --fix on the same text (what the fixing hook pays when there is nothing to fix),
                # then with a blocking sleep added, so a fix is applied and the file written.
                target.write_bytes(edited)
                fix_runs.append(measure([asyncreview, "--fix", "--exit-zero", "-q", str(target)], env=_env(cache)))
                target.write_bytes(edited + FIXABLE_EDIT.format(number=number).encode())
                fixing_runs.append(measure([asyncreview, "--fix", "--exit-zero", "-q", str(target)], env=_env(cache)))
                fixes_applied += f"time.sleep({number})".encode() not in target.read_bytes()
            results["single_asyncreview"] = _median(ours_runs)
            results["single_asyncreview_fix"] = _median(fix_runs)
            results["single_asyncreview_fixing"] = _median(fixing_runs)
            results["single_asyncreview_fixing"]["fixed_runs"] = fixes_applied
            if flake8_runs:
                results["single_flake8"] = _median(flake8_runs)
            results["single_file"] = {"source": str(small.relative_to(root)), "lines": lines_by_file[small]}
        if not args.skip_llm and (HERE / "llm_throughput.py").exists():
            log("LLM stage (benchmarks/llm_throughput.py) ...")
            results["llm_throughput"] = _llm_benchmark(work, args.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for key in ("asyncreview_cold", "asyncreview_fill", "asyncreview_warm", "libcst_parse_1", "libcst_parse_pool",
                "ruff_cold"):
        if key in results:
            results[key]["lines"] = total_lines
    for key in ("flake8_sample", "asyncreview_cold_sample"):
        if key in results:
            results[key]["lines"] = sample_lines
    for value in results.values():
        if "seconds" in value and value.get("lines"):
            value["lines_per_second"] = value["lines"] / value["seconds"] if value["seconds"] else None

    ratios = _ratios(results)
    return {
        "meta": {
            "python": platform.python_version(),
            "libcst": _version("libcst"),
            "asyncreview": _version("asyncreview"),
            "cpu_count": os.cpu_count(),
            "jobs": jobs,
            "repeat": repeat,
            "single_repeat": single_repeat,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "corpus": str(root),
            "subset": subset,
            "files": len(files),
            "lines": total_lines,
            "flake8_sample_files": len(sample),
            "flake8_sample_lines": sample_lines,
            "rules": registered_rules(),
            "tools": {"ruff": ruff, "flake8": flake8},
        },
        "measurements": results,
        "ratios": ratios,
        "targets": _targets(ratios),
    }


def _llm_benchmark(work: Path, quick: bool) -> Dict[str, Any]:
    """The LLM stage's own benchmark (against the loopback fake Messages API), run as it is;
    its output is kept, and its last line too if that is a JSON object."""
    output = work / "llm.txt"
    result = measure([sys.executable, "-m", "benchmarks.llm_throughput", *(["--quick"] if quick else [])],
                     cwd=HERE.parent, stdout=output)
    text = output.read_text(encoding="utf-8", errors="replace")
    result["output"] = text[-4000:]
    lines = text.strip().splitlines()
    if lines:
        try:
            parsed = json.loads(lines[-1])
            if isinstance(parsed, dict):
                result["report"] = parsed
        except ValueError:
            pass
    return {"llm": result}


def _median(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    return {
        "seconds": statistics.median(seconds),
        "runs": [round(s, 4) for s in seconds],
        "maxrss_mib": max(r["maxrss_mib"] for r in runs),
        "failed": sum(1 for r in runs if r["returncode"] != 0),
    }


def _version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return None


def _ratio(results: Dict[str, Any], ours: str, peer: str) -> Optional[float]:
    if ours in results and peer in results and results[peer]["seconds"]:
        return results[ours]["seconds"] / results[peer]["seconds"]
    return None


def _ratios(results: Dict[str, Any]) -> Dict[str, Optional[float]]:
    flake8 = _ratio(results, "asyncreview_cold_sample", "flake8_sample")
    cold = results.get("asyncreview_cold", {})
    return {
        "cold_vs_libcst_pool": _ratio(results, "asyncreview_cold", "libcst_parse_pool"),
        "cold_vs_libcst_1": _ratio(results, "asyncreview_cold", "libcst_parse_1"),
        "cold_vs_ruff": _ratio(results, "asyncreview_cold", "ruff_cold"),
        "warm_vs_ruff_cold": _ratio(results, "asyncreview_warm", "ruff_cold"),
        "sample_vs_flake8": flake8,
        "flake8_speedup": (1.0 / flake8) if flake8 else None,
        "single_vs_flake8": _ratio(results, "single_asyncreview", "single_flake8"),
        "single_fix_nothing_vs_flake8": _ratio(results, "single_asyncreview_fix", "single_flake8"),
        "single_fix_vs_flake8": _ratio(results, "single_asyncreview_fixing", "single_flake8"),
        "peak_memory_mib": max(cold.get("tree_peak_mib", 0.0), cold.get("maxrss_mib", 0.0)) if cold else None,
    }


def _targets(ratios: Dict[str, Optional[float]]) -> Dict[str, Any]:
    table = {}
    for key, op, limit, text in TARGETS:
        value = ratios.get(key)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit)
        table[key] = {"value": value, "limit": f"{op} {limit:g}", "met": met, "what": text}
    return table


def render(report: Dict[str, Any]) -> str:
    meta, results = report["meta"], report["measurements"]
    out = [
        f"corpus: {meta['files']} files, {meta['lines']:,} lines; flake8 subsample {meta['flake8_sample_files']} "
        f"files, {meta['flake8_sample_lines']:,} lines; jobs {meta['jobs']}, best of {meta['repeat']}",
        "rules: " + ", ".join(f"{r['rule'].rsplit('.', 1)[-1]} ({len(r['codes'])})" for r in meta["rules"]),
        "",
        f"{'measurement':<26} {'seconds':>9} {'lines/s':>10} {'max RSS':>9} {'tree RSS':>9}  runs",
    ]
    for key, value in results.items():
        if "seconds" not in value:
            continue
        rate = value.get("lines_per_second")
        tree = value.get("tree_peak_mib")
        out.append(
            f"{key:<26} {value['seconds']:>9.3f} {(f'{rate:,.0f}' if rate else '-'):>10} "
            f"{value['maxrss_mib']:>7.0f}Mi {(f'{tree:.0f}Mi' if tree else '-'):>9}  {value['runs']}"
            + (f"  FAILED {value['failed']}" if value.get("failed") else "")
        )
    llm = results.get("llm_throughput", {}).get("llm")
    if llm:
        out += ["", f"LLM stage benchmark (exit {llm['returncode']}, {llm['seconds']:.1f} s):", llm["output"].rstrip()]
    out.append("")
    for key, value in report["ratios"].items():
        out.append(f"{key:<26} {('%.3f' % value) if value is not None else 'n/a':>9}")
    out.append("")
    for key, target in report["targets"].items():
        state = {True: "met", False: "NOT MET", None: "n/a"}[target["met"]]
        value = target["value"]
        out.append(f"{state:<8} {target['what']}: {('%.3f' % value) if value is not None else 'n/a'} ({target['limit']})")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--subset", help="comma-separated corpus packages, e.g. aiohttp,httpx (default: all)")
    parser.add_argument("--corpus", help="folder of package folders to use instead of the pinned corpus")
    parser.add_argument("--quick", action="store_true", help="one run per tool, 3 single-file runs, small flake8 sample")
    parser.add_argument("--repeat", type=int, default=3, help="rounds: each measurement runs once per round, the best run counts (default 3)")
    parser.add_argument("--single-repeat", type=int, default=9, help="one-small-file runs; the median counts")
    parser.add_argument("--single-only", action="store_true", help="measure only the one small file (with and without --fix)")
    parser.add_argument("--flake8-lines", type=int, default=None,
                        help="lines in flake8's subsample (default 40,000; 5,000 with --quick)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for every tool")
    parser.add_argument("--json-out", type=Path, help="write the report as JSON here")
    parser.add_argument("--skip-llm", action="store_true", help="do not run benchmarks/llm_throughput.py")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parse-worker", metavar="LIST", help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.parse_worker:
        return parse_worker(args.parse_worker, args.jobs)
    if args.flake8_lines is None:
        args.flake8_lines = 5_000 if args.quick else 40_000
    report = run_benchmarks(args)
    print(render(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
