"""LLM stage throughput against the fake Anthropic API of the tests: N findings, a fixed server
latency and the default concurrency, through the real CLI and the real SDK. Prints the stage's
wall time and its ratio to the ideal (findings / concurrency x latency), and with `--rpm` a
configured requests-per-minute limit: the ideal is then the slower of the two bounds, and the
server counts the most requests it saw in any 60 seconds (`over_limit` must be 0).

    python -m benchmarks.llm_throughput [--findings 200] [--latency 0.5] [--concurrency 4] [--rpm 180] [--quick]

The stage time is the --llm run minus the same local-only run (best of --repeat each)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fakeapi import FakeAnthropic  # noqa: E402

SCRIPT = Path(sys.executable).with_name("asyncreview")


def write_project(root: Path, findings: int, concurrency: int, rpm: float = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    limit = f"requests-per-minute = {rpm}\n" if rpm else ""
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "bench"\nrequires-python = ">=3.9"\n\n[tool.asyncreview.llm]\nmax-concurrency = {concurrency}\n{limit}'
    )
    for index in range(findings):  # one ARV101 each, in a module of its own: one request each
        lines = ["import asyncio", "", f"async def fetch_{index}(client):", f"    async with asyncio.timeout({index + 1}):", "        return await client.get('/')", ""]
        (root / f"app_{index}.py").write_text("\n".join(lines))


def timed(args, env, cwd) -> "tuple[float, subprocess.CompletedProcess]":
    started = time.perf_counter()
    completed = subprocess.run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - started, completed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rpm", type=float, default=0, help="a requests-per-minute limit to configure (0: none)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40 findings instead of 200")
    options = parser.parse_args()
    if options.quick:
        options.findings = 40

    fake = FakeAnthropic().start()
    fake.latency = options.latency
    try:
        with tempfile.TemporaryDirectory() as temp:
            root = Path(temp) / "proj"
            write_project(root, options.findings, options.concurrency, options.rpm)
            env = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(Path(temp) / "cache"), ANTHROPIC_BASE_URL=fake.url)
            env["ANTHROPIC_API_KEY"] = "sk-ant-benchmark-not-a-real-key"
            local = min(timed(["-q", "--no-cache", "."], env, root)[0] for _ in range(options.repeat))
            runs = []
            busiest = 0
            for _ in range(options.repeat):
                before = fake.message_requests
                elapsed, completed = timed(["-q", "--no-cache", "--llm", "."], env, root)
                sent = fake.message_requests - before
                if sent != options.findings:
                    print(completed.stderr, file=sys.stderr)
                    raise SystemExit(f"expected {options.findings} requests, the server saw {sent}")
                runs.append(elapsed)
                arrivals = sorted(fake.arrivals[before:])
                busiest = max(busiest, _most_in_a_minute(arrivals))
            total = min(runs)
    finally:
        fake.stop()
    stage = total - local
    probe = "import time; t = time.perf_counter(); import anthropic; print(time.perf_counter() - t)"
    imports = min(float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout) for _ in range(3))
    ideal = options.findings / options.concurrency * options.latency
    if options.rpm:  # evenly spaced, as the orchestrator spaces them
        ideal = max(ideal, (options.findings - 1) * 60 / options.rpm + options.latency)
    result = {
        "findings": options.findings,
        "latency_s": options.latency,
        "concurrency": options.concurrency,
        "max_in_flight": fake.max_in_flight,
        "cli_local_only_s": round(local, 2),
        "cli_with_llm_s": round(total, 2),
        "llm_stage_s": round(stage, 2),
        "ideal_s": ideal,
        "ratio_stage_to_ideal": round(stage / ideal, 3),
        "import_anthropic_s": round(imports, 2),
        "ratio_stage_without_import_to_ideal": round((stage - imports) / ideal, 3),
        "ratio_whole_run_to_ideal": round(total / ideal, 3),
    }
    if options.rpm:
        result.update(requests_per_minute=options.rpm, most_in_any_minute=busiest,
                      over_limit=max(0, busiest - int(options.rpm)))
    print(json.dumps(result, indent=2))
    return 0


def _most_in_a_minute(arrivals: "list[float]") -> int:
    """The most requests the server saw in any 60 seconds (a window [t, t + 60))."""
    most, first = 0, 0
    for last, arrived in enumerate(arrivals):
        while arrived - arrivals[first] >= 60:
            first += 1
        most = max(most, last - first + 1)
    return most


if __name__ == "__main__":
    sys.exit(main())
