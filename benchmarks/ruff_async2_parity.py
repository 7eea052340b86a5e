"""Does asyncreview report every blocking call that `ruff --select ASYNC2` reports?

Runs both on a folder (by default the benchmark corpus made by benchmarks/corpus.py) and compares
by file and line: ruff findings asyncreview misses, and asyncreview's extra direct (ARV201) and
transitive (ARV202) findings, with a reproducible random sample of extras to read by hand.

    python -m benchmarks.ruff_async2_parity [FOLDER] [--jobs 2] [--sample 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Set, Tuple

from benchmarks.corpus import default_cache_dir

BIN = Path(sys.executable).parent


def ruff_findings(folder: Path) -> Set[Tuple[str, int]]:
    # --ignore-noqa: asyncreview does not honour `# noqa: ASYNCnnn`, so the lines authors silenced
    # for ruff are still blocking calls it must report.
    command = [str(BIN / "ruff"), "check", "--select", "ASYNC2", "--no-cache", "--isolated", "--ignore-noqa",
               "--output-format", "json", "--exit-zero", str(folder)]
    data = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return {(os.path.relpath(item["filename"], folder), item["location"]["row"]) for item in data}


def our_findings(folder: Path, jobs: int) -> List[Dict]:
    command = [str(BIN / "asyncreview"), "--select", "ARV2", "--format", "json", "--no-cache",
               "--exit-zero", "--jobs", str(jobs), "."]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder).stdout
    return json.loads(out)["findings"]


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    folder = (args.folder or default_cache_dir() / "src").resolve()
    theirs = ruff_findings(folder)
    ours = our_findings(folder, args.jobs)
    lines = {(os.path.normpath(f["path"]), f["line"]) for f in ours}
    missed = sorted(theirs - lines)
    print(f"ruff ASYNC2 findings: {len(theirs)}; asyncreview reports {len(theirs) - len(missed)} of them")
    for path, line in missed:
        print(f"  missed {path}:{line}")
    extras = [f for f in ours if (os.path.normpath(f["path"]), f["line"]) not in theirs]
    print(f"asyncreview findings: {len(ours)} ({dict(Counter(f['code'] for f in ours))}); "
          f"not reported by ruff: {len(extras)} ({dict(Counter(f['code'] for f in extras))})")
    rng = random.Random(args.seed)
    for finding in rng.sample(extras, min(args.sample, len(extras))):
        print(f"\n{finding['path']}:{finding['line']} {finding['code']} {finding['message']}")
        print("    " + finding["snippet"].replace("\n", "\n    "))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
