"""Survey of ARV4xx (broad retry exceptions) over the pinned corpus of real async code.

Runs the real CLI (`asyncreview --select ARV4 --format json --no-cache`) on the corpus that
`python -m benchmarks.corpus` unpacks, counts findings per code and per package, and prints a
reproducible sample (seeded) of findings with their snippets for a human to judge.

The main corpus holds few users of retry libraries, so `--extra` also fetches (with pip, once,
into a cache next to the corpus) a pinned set of wheels that lean on tenacity/backoff/stamina
and hand-written retries: the ARV401 side of the measurement.

Usage::

    python -m benchmarks.retry_survey [CORPUS_DIR ...] [--extra] [--sample N] [--seed S] [--json OUT]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

BENCH = Path(os.environ.get("ASYNCREVIEW_BENCH_DIR", Path.home() / ".cache" / "asyncreview-bench"))
DEFAULT_CORPUS = BENCH / "src"
EXTRA_CACHE = BENCH / "retry-extra"
# Async-heavy packages that use retry libraries; pinned so the numbers compare across runs.
EXTRA_PINS = (
    "instructor==1.17.0",
    "langchain-community==0.4.2",
    "litellm==1.110.2",
    "llama-index-core==0.12.52",
    "pymilvus==3.0.2",
    "slack-sdk==3.48.0",
)


def ensure_extra() -> Path:
    from benchmarks.corpus import fetch_pins

    return fetch_pins(EXTRA_PINS, EXTRA_CACHE)


def run(corpora: List[Path]) -> List[Dict[str, Any]]:
    script = shutil.which("asyncreview") or str(Path(sys.executable).with_name("asyncreview"))
    completed = subprocess.run(
        [script, "--select", "ARV4", "--format", "json", "--no-cache", "--exit-zero", *map(str, corpora)],
        capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"asyncreview failed ({completed.returncode}):\n{completed.stderr}")
    report = json.loads(completed.stdout)
    return report["findings"] if isinstance(report, dict) else report


def package_of(path: str, corpora: List[Path]) -> str:
    for corpus in corpora:
        try:
            return Path(path).resolve().relative_to(corpus.resolve()).parts[0]
        except ValueError:
            continue
    return Path(path).parts[0]


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--extra", action="store_true", help="also survey the pinned retry-heavy wheels")
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write every finding here")
    args = parser.parse_args(argv)
    corpora: List[Path] = list(args.corpus) or [DEFAULT_CORPUS]
    for corpus in corpora:
        if not corpus.is_dir():
            raise SystemExit(f"no corpus at {corpus}: run `python -m benchmarks.corpus` first")
    if args.extra:
        corpora.append(ensure_extra())
    started = time.perf_counter()
    findings = run(corpora)
    elapsed = time.perf_counter() - started
    per_code = collections.Counter(f["code"] for f in findings)
    per_package = collections.Counter(package_of(f["path"], corpora) for f in findings)
    print(f"{len(findings)} findings in {elapsed:.1f}s")
    for code, count in sorted(per_code.items()):
        print(f"  {code}: {count}")
    print("per package:")
    for package, count in per_package.most_common():
        print(f"  {package}: {count}")
    if args.json:
        args.json.write_text(json.dumps(findings, indent=2), encoding="utf-8")
    sample = random.Random(args.seed).sample(findings, min(args.sample, len(findings)))
    for number, finding in enumerate(sample, start=1):
        print(f"\n#{number} {finding['path']}:{finding['line']} {finding['code']}")
        print(f"   {finding['message']}")
        for line in finding.get("snippet", "").splitlines()[:6]:
            print(f"   | {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
