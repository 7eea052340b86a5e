"""Every fix on real code: copy the pinned corpus, apply every safe and unsafe fix the registered
rules offer (the same in-process path as `asyncreview --fix --unsafe-fixes`), and check per rule
what a fix must keep.

A fix that is right on its catalogue examples can still break real code; this is where that
shows. Per rule that fixed something: fixes applied, the files its fixes changed that still
compile under this interpreter (must be all of those that compiled before), the fixed findings
gone from their spots (must be all), findings new in the files it changed (must be none), fixes
dropped because their result would not parse (must be none), and what a second `--fix` run
changes (must be nothing). Exit status 1 when a "must" fails. Listed to be read, not a must:
findings that were not fixed but are gone from the files a rule fixed (a call moved to a worker
thread ends the chains that ran through it).

Findings are matched across runs by file, code and message (line numbers in messages left out):
fixes move lines, so a finding's line cannot say it is the same one.

Usage::

    python -m benchmarks.fix_corpus [--corpus DIR] [--json-out out/fix.json] [--show N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from benchmarks import corpus

_LINE_NUMBER = re.compile(r"(?<=line )\d+|(?<=\.py:)\d+")
_DROPPED = re.compile(r"internal error in the fix of (\S+):")
CHECKS = ("compiles", "gone", "new", "dropped", "second_run")


def _key(finding) -> Tuple[str, str, str]:
    return finding.path, finding.code, _LINE_NUMBER.sub("N", finding.message)


def compiles(data: bytes, path: str) -> bool:
    try:
        compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _dropped_code(finding) -> Optional[str]:
    match = _DROPPED.search(finding.message) if finding.code == "ARV003" else None
    return match.group(1) if match else None


def compare(before: Sequence, applied: Sequence, after: Sequence, files_before: Dict[str, bytes],
            files_after: Dict[str, bytes], second_applied: Sequence) -> Dict[str, Any]:
    """Per rule that fixed something, the figures and what failed. `before`/`after`: the findings
    of the run before fixing and after it; `applied`: each finding fixed; `files_before`/`after`:
    the bytes of each file the fixes changed; `second_applied`: what a second run fixed."""
    rows: Dict[str, Dict[str, Any]] = collections.defaultdict(lambda: {
        "applied": 0, "unsafe": 0, "files": 0, "compiled_before": 0, "compile_after": 0, "fixed_spots": 0, "gone": 0,
        "new": 0, "also_gone": 0, "dropped": 0, "second_run": 0, "failures": [], "also_gone_list": []})
    rules_by_file: Dict[str, Set[str]] = collections.defaultdict(set)
    fixed_count: collections.Counter = collections.Counter()
    for finding in applied:
        rows[finding.code]["applied"] += 1
        rows[finding.code]["unsafe"] += not finding.fix.safe
        rules_by_file[finding.path].add(finding.code)
        fixed_count[_key(finding)] += 1
    for path, codes in rules_by_file.items():
        if path not in files_after:
            continue
        was_valid = compiles(files_before[path], path)
        still_valid = compiles(files_after[path], path)
        for code in codes:
            row = rows[code]
            row["files"] += 1
            if was_valid:
                row["compiled_before"] += 1
                row["compile_after"] += still_valid
                if not still_valid:
                    row["failures"].append(f"{path}: no longer compiles")
    dropped = [f for f in after if _dropped_code(f)]
    for finding in dropped:
        code = _dropped_code(finding)
        rows[code]["dropped"] += 1
        rows[code]["failures"].append(f"{finding.path}:{finding.line}: fix dropped, its result would not parse")
    old = collections.Counter(_key(f) for f in before)
    new = collections.Counter(_key(f) for f in after if not _dropped_code(f))
    shown = {_key(f): f for f in after}
    for key in sorted(set(old) | set(new) | set(fixed_count)):
        path, code, message = key
        fixed = fixed_count[key]
        if fixed:  # each fixed finding must be gone: what is left is what was not fixed
            left_unfixed = max(0, old[key] - fixed)
            still = max(0, new[key] - left_unfixed)
            rows[code]["fixed_spots"] += fixed
            rows[code]["gone"] += fixed - min(fixed, still)
            if still:
                rows[code]["failures"].append(f"{path}: still flagged after its fix: {code} {message}")
        elif new[key] > old[key]:
            culprits = rules_by_file.get(path) or {"(no fix in this file)"}
            for culprit in culprits:
                rows[culprit]["new"] += new[key] - old[key]
                rows[culprit]["failures"].append(f"{path}:{shown[key].line}: new finding {code} {message}")
        elif old[key] > new[key] and path in files_after:  # not a must: to read (a fix can end a chain)
            for culprit in rules_by_file[path]:
                rows[culprit]["also_gone"] += old[key] - new[key]
                rows[culprit]["also_gone_list"].append(f"{path}: {code} {message}")
    for finding in second_applied:
        rows[finding.code]["second_run"] += 1
        rows[finding.code]["failures"].append(f"{finding.path}:{finding.line}: fixed again by a second run")
    for row in rows.values():
        row["ok"] = {
            "compiles": row["compile_after"] == row["compiled_before"],
            "gone": row["gone"] == row["fixed_spots"],
            "new": row["new"] == 0,
            "dropped": row["dropped"] == 0,
            "second_run": row["second_run"] == 0,
        }
    return dict(sorted(rows.items()))


def fix_corpus(root: Path, extend_select: Sequence[str] = (), jobs: Optional[int] = None,
               log=lambda *a: None) -> Dict[str, Any]:
    """Analyze `root`, fix everything to a fixed point, write the files, fix again; compare."""
    from asyncreview import fixing, pipeline
    from asyncreview.config import Overrides

    options = pipeline.RunOptions(paths=[Path(".")], overrides=Overrides(extend_select=list(extend_select)),
                                  config_file=None, use_cache=True, jobs=jobs)
    cwd = os.getcwd()
    os.chdir(root)  # display paths relative to the copy, as the CLI run from it would show them
    try:
        times = {}
        started = time.perf_counter()
        before = pipeline.run(options)
        times["analyze"] = time.perf_counter() - started
        log(f"{len(before.files)} files, {len(before.findings)} findings; fixing ...")
        started = time.perf_counter()
        first = fixing.fix_to_fixed_point(options, unsafe=True)
        times["fix"] = time.perf_counter() - started
        for shown, data in first.after.items():
            fixing.write_atomically(first.result.locations[shown], data)
        log(f"{first.fixed} fixes in {len(first.after)} files; fixing again ...")
        started = time.perf_counter()
        second = fixing.fix_to_fixed_point(options, unsafe=True)
        times["second_run"] = time.perf_counter() - started
    finally:
        os.chdir(cwd)
    rules = compare(before.findings, first.applied, first.result.findings, first.before, first.after, second.applied)
    return {
        "files": len(before.files),
        "findings_before": len(before.findings),
        "findings_after": len(first.result.findings),
        "fixed": first.fixed,
        "files_changed": len(first.after),
        "second_run_files_changed": len(second.after),
        "seconds": {name: round(value, 2) for name, value in times.items()},
        "rules": rules,
        "ok": all(all(row["ok"].values()) for row in rules.values()) and not second.after,
    }


def render(report: Dict[str, Any], show: int) -> str:
    out = [
        f"{report['files']} files; {report['findings_before']} findings before, {report['findings_after']} after; "
        f"{report['fixed']} fixes in {report['files_changed']} files; a second run changed "
        f"{report['second_run_files_changed']} files ({', '.join(f'{k} {v} s' for k, v in report['seconds'].items())})",
        "",
        f"{'rule':<8} {'fixes':>6} {'unsafe':>6} {'files':>6} {'compile':>11} {'gone':>11} {'new':>4} {'dropped':>8} "
        f"{'2nd run':>8} {'also gone':>9}",
    ]
    for code, row in report["rules"].items():
        out.append(
            f"{code:<8} {row['applied']:>6} {row['unsafe']:>6} {row['files']:>6} {row['compile_after']:>5}/{row['compiled_before']:<5} "
            f"{row['gone']:>5}/{row['fixed_spots']:<5} {row['new']:>4} {row['dropped']:>8} {row['second_run']:>8} "
            f"{row['also_gone']:>9}"
        )
    out.append("")
    for code, row in report["rules"].items():
        failed = [check for check in CHECKS if not row["ok"][check]]
        if failed:
            out.append(f"FAILED {code}: {', '.join(failed)}")
            out += [f"  {line}" for line in row["failures"][:show]]
    for code, row in report["rules"].items():
        if row["also_gone_list"]:
            out.append(f"also gone from files {code} fixed (not a must; to read):")
            out += [f"  {line}" for line in row["also_gone_list"][:show]]
    out.append("all met" if report["ok"] else "NOT MET")
    return "\n".join(out)


def _codes(text: str) -> List[str]:
    return [code.strip() for code in text.split(",") if code.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fix_corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder of package folders (default: the pinned corpus)")
    parser.add_argument("--extend-select", type=_codes, default=[], metavar="CODES",
                        help="codes to enable in addition, as asyncreview takes them")
    parser.add_argument("--jobs", type=int, help="processes (default: all cores)")
    parser.add_argument("--show", type=int, default=10, help="failures listed per rule (default 10)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    source = args.corpus.resolve() if args.corpus else corpus.ensure_corpus()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="asyncreview-fix-corpus-"))
    try:
        os.environ["ASYNCREVIEW_CACHE_DIR"] = str(work / "cache")  # a fresh cache: the runs share it
        copy = work / "corpus"
        log(f"copying {source} ...")
        shutil.copytree(source, copy, symlinks=True)
        report = fix_corpus(copy, args.extend_select, args.jobs, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["corpus"] = str(source)
    print(render(report, args.show))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
