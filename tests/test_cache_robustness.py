"""The per-file result cache under faults: concurrent runs, SIGKILL mid-run and mid-write,
damaged or foreign entries, permissions, and no unpickling. The answer must always equal a run
with --no-cache."""

import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from asyncreview.store import RESULTS_STORE
from conftest import SCRIPT

REPO = Path(__file__).resolve().parent.parent
CODE = "import asyncio\n\n\nasync def main():\n    async with asyncio.timeout(1):\n        await asyncio.sleep(0)\n"
DB = f"{RESULTS_STORE}.sqlite"


def _populate(project, count=60):
    for number in range(count):
        body = CODE + "\n" * number + "x = 1\n" * (50 + number)
        if number % 3 == 0:
            body += "def broken(:\n"  # a diagnostic is cached too
        project.write(f"pkg{number % 4}/mod{number}.py", body)


def _env(cache):
    environment = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(cache), NO_COLOR="1")
    environment.pop("ANTHROPIC_API_KEY", None)
    return environment


def _start(project, cache, *extra, **kwargs):
    args = [str(SCRIPT), "--format", "json", "--target-version", "3.10", *extra, "."]
    return subprocess.Popen(args, cwd=project.root, env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _finish(process):
    out, err = process.communicate(timeout=300)
    assert "Traceback" not in err, err
    return json.loads(out)


def _run(project, cache, *extra):
    return _finish(_start(project, cache, *extra))


def _integrity(cache):
    with contextlib.closing(sqlite3.connect(str(cache / DB))) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # one entry per file; the project join's memo (`join-...`) is not a file's
        return db.execute("SELECT count(*) FROM entries WHERE key NOT LIKE 'join-%'").fetchone()[0]


def test_two_processes_at_once_give_the_same_findings_as_one(project, tmp_path):
    _populate(project)
    truth = _run(project, tmp_path / "unused", "--no-cache")["findings"]
    assert len(truth) == 60
    cache = tmp_path / "shared"
    for round_ in range(3):  # cold, warm, and after the other process rewrote everything
        first, second = _start(project, cache, "-j", "2"), _start(project, cache, "-j", "1")
        results = [_finish(first), _finish(second)]
        for result in results:
            assert result["findings"] == truth, round_
        if round_:
            assert all(r["summary"]["cached"] == 60 for r in results)
    assert _integrity(cache) == 60


def test_sigkill_at_random_points_leaves_a_usable_cache(project, tmp_path):
    _populate(project, count=80)
    cache = tmp_path / "cache"
    started = time.monotonic()
    _run(project, tmp_path / "timing")
    duration = time.monotonic() - started
    rng = random.Random(9)
    for _ in range(5):
        with _start(project, cache, "-j", "2", start_new_session=True) as process:
            time.sleep(rng.uniform(0.1, duration))
            os.killpg(process.pid, signal.SIGKILL)  # the workers die with the run
            process.communicate()
        for entry in (project.root / "pkg0").iterdir():  # some files change between kills
            if rng.random() < 0.2:
                entry.write_text(entry.read_text() + "y = 2\n")
    truth = _run(project, tmp_path / "unused", "--no-cache")["findings"]
    after = _run(project, cache)
    assert after["findings"] == truth
    again = _run(project, cache)
    assert again["findings"] == truth and again["summary"]["cached"] == 80
    assert _integrity(cache) >= 80


KILL_MID_WRITE = """
import os, signal, sys
from asyncreview import cli, store

def dying(self, items):
    self.db.execute("BEGIN IMMEDIATE")
    rows = [(key, '{"findings": [', "0" * 64, 0.0) for key in items]
    self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows[: len(rows) // 2])
    os.kill(os.getpid(), signal.SIGKILL)

store.SignedStore.put_many = dying
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigkill_inside_the_write_transaction(project, tmp_path):
    _populate(project, count=20)
    cache = tmp_path / "cache"
    truth = _run(project, tmp_path / "unused", "--no-cache")["findings"]
    for _ in range(2):
        killed = subprocess.run(
            [sys.executable, "-c", KILL_MID_WRITE, "--target-version", "3.10", "-j", "1", "."],
            cwd=project.root, env=_env(cache), capture_output=True, text=True, timeout=300,
        )
        assert killed.returncode == -signal.SIGKILL
    result = _run(project, cache)
    assert result["findings"] == truth and result["summary"]["cached"] == 0
    assert _run(project, cache)["summary"]["cached"] == 20


def _resign(cache, key, value):
    secret = (cache / "secret.key").read_bytes()
    return hmac.new(secret, f"{key}\0{value}".encode(), hashlib.sha256).hexdigest()


def test_truncated_tampered_and_foreign_entries_are_misses(project, tmp_path):
    _populate(project, count=12)
    cache = tmp_path / "cache"
    truth = _run(project, cache)["findings"]
    foreign = [
        '{"findings": "not a list", "summary": {}, "noqa": {}, "parsed": true}',
        '{"findings": [], "summary": {}, "noqa": [], "parsed": true}',
        '{"findings": [{"code": "ARV999"}], "summary": {}, "noqa": {}, "parsed": true}',
        '{"findings": [], "summary": [], "noqa": {"x": null}, "parsed": true}',
        '[1, 2, 3]',
        '"a string"',
        'null',
        '{"version": "99.0", "payload": {}}',
    ]
    with contextlib.closing(sqlite3.connect(str(cache / DB))) as db:
        rows = db.execute("SELECT key, value FROM entries WHERE key NOT LIKE 'join-%' ORDER BY key").fetchall()
        assert len(rows) == 12
        (join_key,) = db.execute("SELECT key FROM entries WHERE key LIKE 'join-%'").fetchone()
        signed = '{"findings": [{"code": "ARV999"}]}'  # the project join's memo, well signed, wrong shape
        db.execute("UPDATE entries SET value=?, mac=? WHERE key=?", (signed, _resign(cache, join_key, signed), join_key))
        for number, (key, value) in enumerate(rows):
            if number < 2:
                value = value[: len(value) // 2]  # truncated: the MAC no longer matches
                db.execute("UPDATE entries SET value=? WHERE key=?", (value, key))
            elif number < 4:
                db.execute("UPDATE entries SET value=? WHERE key=?", (value.replace("\"parsed\":", "\"parsed\": "), key))
            else:  # well signed, but not what this version writes
                text = foreign[number - 4]
                db.execute("UPDATE entries SET value=?, mac=? WHERE key=?", (text, _resign(cache, key, text), key))
        db.commit()
    result = _run(project, cache)
    assert result["findings"] == truth
    assert result["summary"]["cached"] == 0
    assert _run(project, cache)["summary"]["cached"] == 12


def test_damaged_cache_files(project, tmp_path):
    _populate(project, count=12)
    cache = tmp_path / "cache"
    truth = _run(project, cache)["findings"]
    damage = [
        lambda: os.truncate(cache / DB, os.path.getsize(cache / DB) // 2),
        lambda: (cache / DB).write_bytes(os.urandom(8192)),
        lambda: (cache / "secret.key").write_bytes(b"short"),
        lambda: (cache / "secret.key").unlink(),
        lambda: (cache / DB).write_bytes(b""),
    ]
    for hurt in damage:
        hurt()
        result = _run(project, cache)
        assert result["findings"] == truth
        assert _run(project, cache)["summary"]["cached"] == 12
    # A cache folder that cannot be created: a notice, and the run goes on without it.
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    process = _start(project, blocked / "sub")
    out, err = process.communicate(timeout=300)
    assert json.loads(out)["findings"] == truth
    assert "continuing without the result cache" in err and "Traceback" not in err


def test_owner_only_and_nothing_executable(project, tmp_path):
    _populate(project, count=8)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    os.chmod(cache, 0o777)  # a loose folder made by someone else is tightened
    old = os.umask(0o022)
    try:
        _run(project, cache)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    names = sorted(p.name for p in cache.iterdir())
    assert "secret.key" in names and DB in names
    for path in cache.rglob("*"):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        else:
            assert mode & 0o077 == 0, (path, oct(mode))
            assert mode & 0o111 == 0, (path, oct(mode))


UNSAFE = re.compile(
    r"^\s*(?:import|from)\s+(?:pickle|cPickle|_pickle|marshal|shelve|dill|cloudpickle|jsonpickle)\b"
    r"|\b(?:pickle|marshal|shelve|dill)\.(?:loads?|open|Unpickler)\b|yaml\.load\(|\beval\(|\bexec\(",
    re.MULTILINE,
)


def test_nothing_under_the_cache_is_unpickled_or_executed():
    """No deserializer that can run code anywhere in the package; cache values are JSON."""
    sources = sorted((REPO / "asyncreview").rglob("*.py"))
    assert len(sources) > 10
    offenders = [(p.relative_to(REPO).as_posix(), m.group(0)) for p in sources for m in UNSAFE.finditer(p.read_text(encoding="utf-8"))]
    # The one exception reads no data: tree.py compiles node constructors from LibCST's own field
    # names (identifiers only), as `dataclasses` itself does.
    assert offenders == [("asyncreview/tree.py", "exec(")]
    assert UNSAFE.search("import pickle\n") and UNSAFE.search("x = marshal.loads(b)")  # the pattern bites


def test_api_key_stays_out_of_everything_without_llm(project, tmp_path):
    """Secrets in the non-LLM paths: reports, logs, cache files, --output, the step summary."""
    key = "sk-ant-api03-" + "S3CR3T" * 12
    _populate(project, count=6)
    cache = tmp_path / "cache"
    summary = tmp_path / "step-summary.md"
    environment = dict(_env(cache), ANTHROPIC_API_KEY=key, GITHUB_STEP_SUMMARY=str(summary))
    outputs = []
    for args in (
        ["--format", "json", "."],
        ["--statistics", "."],
        ["--output", str(tmp_path / "report.json"), "--format", "json", "."],
        ["--select", "NOPE", "."],  # a usage error
        ["missing_folder"],
    ):
        done = subprocess.run([str(SCRIPT), "--target-version", "3.10", *args], cwd=project.root, env=environment, capture_output=True, text=True, timeout=300)
        outputs.extend([done.stdout, done.stderr])
    assert any("ARV101" in text for text in outputs)
    for text in outputs:
        assert key not in text and "S3CR3T" not in text
    written = [p for p in [*cache.rglob("*"), tmp_path / "report.json", summary] if p.is_file()]
    assert any(p.name == DB for p in written)
    for path in written:
        assert b"S3CR3T" not in path.read_bytes(), path
