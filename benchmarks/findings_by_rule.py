"""Findings per rule on pinned real code, and what changed between two runs, listed by rule.

A rule that is right on its examples and wrong on real code is not done: this is how a change is
judged on code nobody wrote for it. `run` analyzes the pinned corpus (`python -m benchmarks.corpus`)
or any folders of package folders and writes every finding as JSON; `diff` lists the findings one
run has and the other has not, by rule and package, with their first snippet line, to be read
line by line.

Usage::

    python -m benchmarks.findings_by_rule run [CORPUS_DIR ...] [--select ARV2] [--target-version 3.9] --json-out before.json
    python -m benchmarks.findings_by_rule diff before.json after.json [--show N]
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.retry_survey import DEFAULT_CORPUS, package_of


def run(corpora: List[Path], select: Optional[str], target: Optional[str]) -> Dict[str, Any]:
    script = shutil.which("asyncreview") or str(Path(sys.executable).with_name("asyncreview"))
    command = [script, "--format", "json", "--no-cache", "--exit-zero"]
    command += ["--select", select] if select else []
    command += ["--target-version", target] if target else []
    completed = subprocess.run([*command, *map(str, corpora)], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"asyncreview failed ({completed.returncode}):\n{completed.stderr}")
    report = json.loads(completed.stdout)
    for finding in report["findings"]:
        finding["package"] = package_of(finding["path"], corpora)
    report["command"] = command
    return report


def counts(findings: List[Dict[str, Any]]) -> str:
    by_code = collections.Counter(f["code"] for f in findings)
    by_package = collections.Counter(f["package"] for f in findings)
    lines = [f"{len(findings)} findings"]
    lines += [f"  {code}: {count}" for code, count in sorted(by_code.items())]
    lines.append("per package:")
    lines += [f"  {package}: {count}" for package, count in by_package.most_common()]
    return "\n".join(lines)


def _key(finding: Dict[str, Any]) -> Tuple[str, str, str, str]:
    """What makes a finding the same one in two runs: lines move when code above changes, so the
    flagged line's text stands in for its number."""
    first = (finding.get("snippet") or "").split("\n", 1)[0].strip()
    return finding["path"], finding["code"], first, finding["message"]


def diff(before: List[Dict[str, Any]], after: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    old = collections.Counter(_key(f) for f in before)
    new = collections.Counter(_key(f) for f in after)
    gained, lost = new - old, old - new

    def pick(findings: List[Dict[str, Any]], wanted: collections.Counter) -> List[Dict[str, Any]]:
        chosen = []
        for finding in findings:
            key = _key(finding)
            if wanted[key] > 0:
                wanted[key] -= 1
                chosen.append(finding)
        return chosen

    return {"new": pick(after, gained), "gone": pick(before, lost)}


def render_diff(changes: Dict[str, List[Dict[str, Any]]], show: int) -> str:
    lines = []
    for kind in ("new", "gone"):
        findings = changes[kind]
        by_code: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
        for finding in findings:
            by_code[finding["code"]].append(finding)
        lines.append(f"{kind}: {len(findings)}")
        for code in sorted(by_code):
            listed = by_code[code]
            packages = collections.Counter(f["package"] for f in listed)
            lines.append(f"  {code}: {len(listed)} ({', '.join(f'{p} {n}' for p, n in packages.most_common())})")
            for finding in listed[:show]:
                first = (finding.get("snippet") or "").split("\n", 1)[0].strip()
                lines.append(f"    {finding['path']}:{finding['line']}  {first[:100]}")
                lines.append(f"      {finding['message'][:160]}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.findings_by_rule", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("run", help="analyze real code and write every finding")
    analyze.add_argument("corpus", nargs="*", type=Path, help=f"folders of package folders (default: {DEFAULT_CORPUS})")
    analyze.add_argument("--select", help="codes or prefixes, as asyncreview takes them")
    analyze.add_argument("--target-version", help="as asyncreview takes it (default: each project's own)")
    analyze.add_argument("--json-out", type=Path, required=True)
    compare = commands.add_parser("diff", help="list what two runs disagree on, by rule")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    compare.add_argument("--show", type=int, default=10, help="findings listed per rule (default 10)")
    args = parser.parse_args(argv)
    if args.command == "run":
        corpora = list(args.corpus) or [DEFAULT_CORPUS]
        missing = [str(c) for c in corpora if not c.is_dir()]
        if missing:
            raise SystemExit(f"no corpus at {', '.join(missing)}: run `python -m benchmarks.corpus` first")
        report = run(corpora, args.select, args.target_version)
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(counts(report["findings"]))
        return 0
    before = json.loads(args.before.read_text(encoding="utf-8"))["findings"]
    after = json.loads(args.after.read_text(encoding="utf-8"))["findings"]
    print(render_diff(diff(before, after), args.show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
