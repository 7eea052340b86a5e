"""Survey of ARV4xx (broad retry exceptions) over the pinned corpus of real async code.

Runs the real CLI (`asyncreview --select ARV4 --format json --no-cache`) on the corpus that
`python -m benchmarks.corpus` unpacks, counts findings per code and per package, and prints a
reproducible sample (seeded) of findings with their snippets for a human to judge.

Usage::

    python -m benchmarks.retry_survey [CORPUS_DIR] [--sample N] [--seed S] [--json OUT]
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

DEFAULT_CORPUS = Path(os.environ.get("ASYNCREVIEW_BENCH_DIR", Path.home() / ".cache" / "asyncreview-bench")) / "src"


def run(corpus: Path) -> List[Dict[str, Any]]:
    script = shutil.which("asyncreview") or str(Path(sys.executable).with_name("asyncreview"))
    completed = subprocess.run(
        [script, "--select", "ARV4", "--format", "json", "--no-cache", "--exit-zero", str(corpus)],
        capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"asyncreview failed ({completed.returncode}):\n{completed.stderr}")
    report = json.loads(completed.stdout)
    return report["findings"] if isinstance(report, dict) else report


def package_of(path: str, corpus: Path) -> str:
    try:
        return Path(path).resolve().relative_to(corpus.resolve()).parts[0]
    except ValueError:
        return Path(path).parts[0]


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write every finding here")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: run `python -m benchmarks.corpus` first")
    started = time.perf_counter()
    findings = run(args.corpus)
    elapsed = time.perf_counter() - started
    per_code = collections.Counter(f["code"] for f in findings)
    per_package = collections.Counter(package_of(f["path"], args.corpus) for f in findings)
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
