"""`python -m benchmarks.generated_module`: one huge generated module, asyncreview against Python's
own `ast.parse` of it (and LibCST's parse, the cost a code screen avoids), in rounds.

Generated code (API type tables, protocol constants) is where a word screen on the raw bytes is
weakest: its string tables and docstrings say `open`, `session` or `retry` without calling
anything, and a LibCST tree of a 3 MB module takes over a gigabyte. Issue 19's target: at most
1.5x `ast.parse` in time and 400 MiB peak memory. `--file PATH` measures a real file instead
(e.g. type_defs.py of types-aiobotocore-ec2==3.10.0, 880 kB).

Usage::

    python -m benchmarks.generated_module [--megabytes 3] [--repeat 3] [--file PATH] [--with-libcst] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.run import BIN, interleaved, measure

TARGET_TIME_RATIO = 1.5
TARGET_PEAK_MIB = 400.0

_HEADER = '''"""Type definitions for the Example service. Generated: do not edit.

Use `ExampleClient.open_session()` to open a session; requests are retried with backoff.
"""

import sys
from typing import Any, Dict, List, Mapping, Sequence, Union

if sys.version_info >= (3, 12):
    from typing import Literal, NotRequired, TypedDict
else:
    from typing_extensions import Literal, NotRequired, TypedDict

'''


def generated_source(megabytes: float) -> str:
    """A deterministic module of about `megabytes` MB in the shape of generated API types:
    literal tables, TypedDicts, a mapping of operations. Its strings name blocking calls,
    resources and retries; its code calls none."""
    parts: List[str] = [_HEADER]
    size, number = len(_HEADER), 0
    while size < megabytes * 1_000_000:
        block = (
            f'InstanceState{number}Type = Literal["open", "closed", "pending", "retrying", "session-{number}"]\n'
            f"\n\nclass DescribeInstances{number}RequestTypeDef(TypedDict):\n"
            f'    """Request for `DescribeInstances{number}`: open a session with requests.Session(),\n'
            f'    then time.sleep() between retries; see asyncio.timeout()."""\n\n'
            f"    InstanceIds: NotRequired[Sequence[str]]\n"
            f"    Filters: NotRequired[Sequence[Mapping[str, Any]]]\n"
            f"    State: NotRequired[InstanceState{number}Type]\n"
            f"    MaxResults: NotRequired[int]\n"
            f"    NextToken: NotRequired[str]\n"
            f"\n\nOPERATION_{number}: Dict[str, Union[str, int, List[str]]] = {{\n"
            f'    "name": "DescribeInstances{number}",\n'
            f'    "http": "POST /open/session/{number}",\n'
            f'    "retry": "acquire lock, then retry on Exception",\n'
            f'    "codes": ["open", "acquire", "sleep", "subprocess.run"],\n'
            f'    "limit": {number % 997},\n'
            f"}}\n\n"
        )
        parts.append(block)
        size += len(block)
        number += 1
    return "".join(parts)


def _python(code: str, path: Path) -> List[str]:
    return [sys.executable, "-c", code, str(path)]


def run(path: Path, repeat: int, with_libcst: bool = False, log=lambda message: print(message, file=sys.stderr)) -> Dict[str, Any]:
    asyncreview = str(BIN / "asyncreview") if (BIN / "asyncreview").exists() else "asyncreview"
    commands = {
        "asyncreview": [asyncreview, "--no-cache", "--jobs", "1", "--exit-zero", "--quiet", "--target-version", "3.9", str(path)],
        "ast.parse": _python("import ast, sys; ast.parse(open(sys.argv[1], 'rb').read())", path),
    }
    if with_libcst:  # minutes and a gigabyte for 3 MB: what asyncreview no longer spends
        commands["libcst.parse_module"] = _python("import libcst, sys; libcst.parse_module(open(sys.argv[1], 'rb').read())", path)
    results = interleaved(repeat, {name: (lambda c=command: measure(c, sample_memory=True)) for name, command in commands.items()}, log)
    ours, floor = results["asyncreview"], results["ast.parse"]
    peak = max(ours.get("tree_peak_mib", 0.0), ours["maxrss_mib"])
    ratio = ours["seconds"] / floor["seconds"]
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "lines": path.read_bytes().count(b"\n"),
        "results": results,
        "time_ratio_to_ast": ratio,
        "peak_mib": peak,
        "targets": {
            "time": {"target": TARGET_TIME_RATIO, "value": ratio, "met": ratio <= TARGET_TIME_RATIO},
            "memory": {"target": TARGET_PEAK_MIB, "value": peak, "met": peak <= TARGET_PEAK_MIB},
        },
    }


def render(report: Dict[str, Any]) -> str:
    lines = [f"{report['file']}: {report['bytes'] / 1e6:.2f} MB, {report['lines']:,} lines"]
    for name, value in report["results"].items():
        peak = max(value.get("tree_peak_mib", 0.0), value["maxrss_mib"])
        lines.append(f"  {name:<20} {value['seconds']:>7.2f} s  {peak:>7.0f} MiB  runs {value['runs']}")
    for name, target in report["targets"].items():
        verdict = "met" if target["met"] else "NOT MET"
        unit = "x ast.parse" if name == "time" else " MiB"
        lines.append(f"  {name}: {target['value']:.2f}{unit} (target <= {target['target']}{unit}): {verdict}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generated_module", description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=3.0, help="size of the generated module (default 3)")
    parser.add_argument("--file", type=Path, help="measure this file instead of a generated one")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best run of each counts (default 3)")
    parser.add_argument("--with-libcst", action="store_true", help="also time LibCST's parse of the file (slow)")
    parser.add_argument("--json-out", type=Path, help="also write the report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = args.file
        if path is None:
            path = Path(folder) / "generated_types.py"
            path.write_text(generated_source(args.megabytes), encoding="utf-8")
        report = run(path, args.repeat, args.with_libcst)
    print(render(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
