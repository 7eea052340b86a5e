"""ARV505 on real code, where released code has no dropped coroutine to find: take `await f(...)`
statements of the corpus, drop the `await`, and count how many the rule flags in each file alone
(no project join), and every finding on a line that was not changed (each one a false positive).

Usage::

    python -m benchmarks.awaited_recall [--files 300] [--seed 5] [--show 20]
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path
from typing import List, Optional, Sequence

from asyncreview.checks.awaited import NeverAwaited
from asyncreview.testing import findings_for
from benchmarks.retry_survey import DEFAULT_CORPUS

_AWAITED_STATEMENT = re.compile(r"^(\s*)await ([A-Za-z_][\w.]*\(.*\))\s*$")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="files with an awaited statement to mutate")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--show", type=int, default=20, help="missed lines to print")
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    files = sorted(p for p in args.corpus.rglob("*.py") if p.stat().st_size < 200_000)
    random.Random(args.seed).shuffle(files)
    mutated_total = flagged = done = 0
    missed: List[str] = []
    extra: List[str] = []
    for path in files:
        if done >= args.files:
            break
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        mutated = set()
        for number, line in enumerate(lines, 1):
            match = _AWAITED_STATEMENT.match(line)
            if match and line.count("(") == line.count(")"):
                lines[number - 1] = match.group(1) + match.group(2)
                mutated.add(number)
        if not mutated:
            continue
        found = {f.line for f in findings_for("\n".join(lines) + "\n", [NeverAwaited], target="3.11") if f.code == "ARV505"}
        done += 1
        mutated_total += len(mutated)
        flagged += len(mutated & found)
        missed.extend(f"{path.relative_to(args.corpus)}:{n}: {lines[n - 1].strip()[:100]}" for n in sorted(mutated - found)[:1])
        extra.extend(f"{path.relative_to(args.corpus)}:{n}: {lines[n - 1].strip()[:100]}" for n in sorted(found - mutated))
    print(f"{done} files, {mutated_total} awaits dropped, {flagged} flagged ({flagged / max(mutated_total, 1):.0%}); "
          f"{len(extra)} findings on lines not changed")
    print("\n".join(f"not changed, flagged: {line}" for line in extra))
    print("\n".join(f"missed: {line}" for line in missed[: args.show]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
