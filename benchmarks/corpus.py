"""Fetch a pinned corpus of real-world async Python code for benchmarks.

Linter speed and false-positive rates only mean something on real code, and
only compare across runs when the code is identical, so the corpus is a
pinned list of wheels from PyPI.  Only the ``.py`` files are unpacked.  The
cache lives outside the repository so the code is never linted, committed or
picked up by tests by accident.

Usage::

    python -m benchmarks.corpus [--dir D] [--list]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# Pinned to the newest versions `pip index versions NAME` reported for
# CPython 3.11.  Change a pin only on purpose: measurements are comparable only
# on the same corpus.
PINNED: tuple[str, ...] = (
    "aiofiles==25.1.0",
    "aiogram==3.31.0",
    "aiohttp==3.14.5",
    "aiokafka==0.14.0",
    "anthropic==2.13.0",
    "anyio==4.16.0",
    "asyncpg==0.32.0",
    "celery==5.7.0",
    "discord.py==2.7.1",
    "fastapi==0.165.0",
    "homeassistant==2024.3.3",
    "httpcore==1.0.9",
    "httpx==0.28.1",
    "langchain-core==1.8.4",
    "motor==3.7.1",
    "openai==3.57.0",
    "prefect==3.9.1",
    "pymongo==4.20.1",
    "redis==8.1.0",
    "sanic==25.12.1",
    "sqlalchemy==2.1.9",
    "starlette==1.10.0",
    "tornado==6.6.1",
    "trio==0.35.0",
    "uvicorn==0.54.0",
    "websockets==17.4",
)

# Wheels with compiled parts differ per platform; pinning the target (rather
# than taking the host's) keeps the corpus identical on every machine and lets
# an older interpreter fetch packages that require Python 3.11.
TARGET_ARGS: tuple[str, ...] = (
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
)

MARKER = ".unpacked"
ENV_VAR = "ASYNCREVIEW_BENCH_DIR"


def _canonical(name: str) -> str:
    """Normalise a project name the way wheel filenames do (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _split_pin(pin: str) -> tuple[str, str]:
    name, _, version = pin.partition("==")
    return name, version


def default_cache_dir() -> Path:
    """$ASYNCREVIEW_BENCH_DIR, else ~/.cache/asyncreview-bench (never the repo)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "asyncreview-bench"


def _check_outside_repo(cache: Path) -> None:
    """Refuse a cache inside the repo: the corpus would get linted and committed."""
    repo = Path(__file__).resolve().parent.parent
    resolved = cache.resolve()
    if resolved == repo or repo in resolved.parents:
        raise ValueError(f"corpus cache {cache} must be outside the repository {repo}")


def _find_wheel(wheels: Path, name: str, version: str) -> Path | None:
    """Return the downloaded wheel for name==version, if any."""
    if not wheels.is_dir():
        return None
    want = (_canonical(name), version)
    for path in sorted(wheels.glob("*.whl")):
        parts = path.name.split("-")
        if len(parts) >= 2 and (_canonical(parts[0]), parts[1]) == want:
            return path
    return None


def _download(wheels: Path, pins: Sequence[str]) -> None:
    """Download wheels with pip itself, so indexes, proxies and certs just work."""
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        *TARGET_ARGS,
        "-d",
        str(wheels),
        *pins,
    ]
    subprocess.run(cmd, check=True)


def _safe_member(member: str) -> bool:
    """Skip absolute or '..' paths so a malformed wheel cannot escape the cache."""
    parts = Path(member).parts
    return bool(parts) and not Path(member).is_absolute() and ".." not in parts


def _unpack(wheel: Path, dest: Path) -> None:
    """Extract only the .py files; the marker is written last, so a partial
    unpack (no marker) is wiped and redone on the next call."""
    if (dest / MARKER).is_file():
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or not name.endswith(".py") or not _safe_member(name):
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    (dest / MARKER).write_text(wheel.name + "\n", encoding="utf-8")


def ensure_corpus(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download and unpack the pinned corpus once; return ``<cache>/src``.

    Already downloaded wheels and complete unpacks are reused, so repeated
    calls are cheap and work offline.
    """
    cache = (
        Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    )
    _check_outside_repo(cache)
    src = fetch_pins(PINNED, cache)
    _prune(src)
    return src


def fetch_pins(pins, cache: Path) -> Path:
    """Download the wheels of `pins` that `<cache>/wheels` lacks and unpack each once into
    `<cache>/src/<name>-<version>`; return `<cache>/src`."""
    wheels = cache / "wheels"
    src = cache / "src"
    missing = [pin for pin in pins if _find_wheel(wheels, *_split_pin(pin)) is None]
    if missing:
        _download(wheels, missing)
    for pin in pins:
        name, version = _split_pin(pin)
        wheel = _find_wheel(wheels, name, version)
        if wheel is None:
            raise RuntimeError(f"pip did not produce a wheel for {pin} in {wheels}")
        _unpack(wheel, src / f"{name}-{version}")
    return src


def _prune(src: Path) -> None:
    """Drop unpacks of pins no longer listed, so old versions never skew counts."""
    keep = {"-".join(_split_pin(pin)) for pin in PINNED}
    for path in src.iterdir():
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path)


def _matches(dirname: str, wanted: set[str]) -> bool:
    """Select a package dir by 'name' or 'name-version', ignoring name spelling."""
    name = dirname.rsplit("-", 1)[0]
    return _canonical(dirname) in wanted or _canonical(name) in wanted


def corpus_files(
    root: str | os.PathLike[str], subset: Iterable[str] | None = None
) -> list[Path]:
    """All .py files under root, sorted so runs process files in a stable order.

    ``subset`` limits the result to packages given as ``name`` or
    ``name-version`` (e.g. ``["aiohttp", "httpx"]``) for quicker runs.
    """
    base = Path(root)
    wanted = None if subset is None else {_canonical(s) for s in subset}
    files: list[Path] = []
    for pkg in sorted(p for p in base.iterdir() if p.is_dir()):
        if wanted is not None and not _matches(pkg.name, wanted):
            continue
        files.extend(p for p in pkg.rglob("*.py") if p.is_file())
    return sorted(files)


def count_lines(paths: Iterable[str | os.PathLike[str]]) -> int:
    """Total physical lines (like ``wc -l``, plus an unterminated last line)."""
    total = 0
    for path in paths:
        data = Path(path).read_bytes()
        total += data.count(b"\n")
        if data and not data.endswith(b"\n"):
            total += 1
    return total


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ensure the corpus, then print per-package file and line counts."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus",
        description="Download the pinned async-code corpus and report its size.",
    )
    parser.add_argument(
        "--dir",
        help=f"cache directory (default: ${ENV_VAR} or ~/.cache/asyncreview-bench)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the pinned packages and exit"
    )
    args = parser.parse_args(argv)

    if args.list:
        for pin in PINNED:
            print(pin)
        return 0

    src = ensure_corpus(args.dir)
    wheels = src.parent / "wheels"
    names = ["-".join(_split_pin(pin)) for pin in PINNED]
    width = max(len(n) for n in names + ["TOTAL"])
    total_files = total_lines = wheel_bytes = 0
    for pin, dirname in zip(PINNED, names):
        files = corpus_files(src, [dirname])
        lines = count_lines(files)
        total_files += len(files)
        total_lines += lines
        wheel = _find_wheel(wheels, *_split_pin(pin))
        wheel_bytes += wheel.stat().st_size if wheel is not None else 0
        print(f"{dirname:<{width}}  {len(files):>7} files  {lines:>10,} lines")
    print(f"{'TOTAL':<{width}}  {total_files:>7} files  {total_lines:>10,} lines")
    print(f"wheels: {_human(wheel_bytes)}  corpus: {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
