"""A small signed key-value store in SQLite, shared by the per-file result cache and the LLM
review cache.

Entries are JSON (never pickle) with an HMAC under a per-cache secret kept in an owner-only file,
so a tampered, truncated or foreign entry is a miss, not a crash. SQLite in WAL mode with a busy
timeout makes two processes at once safe; each put_many is one transaction (the result cache
puts each batch of results as it is done, so a killed run keeps what it finished)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

# The per-file results store. v2: a result may be pending (engine.FileResult.pending), which
# code that predates it would take for a file without a summary.
RESULTS_STORE = "results-v2"


class StoreError(Exception):
    pass


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(folder, 0o700)
    except OSError:
        pass


def _read_secret(folder: Path) -> bytes:
    path = folder / "secret.key"
    for _ in range(3):
        try:
            with open(path, "rb") as handle:
                secret = handle.read()
            if len(secret) == 32:
                return secret
            os.unlink(path)  # truncated or foreign: start over, every old entry becomes a miss
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            time.sleep(0.01)  # another process is writing it right now
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    raise StoreError(f"cannot establish the cache secret in {folder}")


class SignedStore:
    def __init__(self, folder: Path, name: str, max_entries: int = 200_000, refresh_after: float = 3600.0) -> None:
        self.max_entries = max_entries
        # Eviction goes by last use. A read refreshes an entry's use time only when it is older
        # than this: to the hour is precise enough for per-file results, and a warm run then
        # writes nothing; the review cache (few, costly entries) refreshes on every read.
        self.refresh_after = refresh_after
        self.path = folder / f"{name}.sqlite"
        # Rows written since the size was last checked: results are written a batch at a time as
        # a run goes, and counting the rows after every batch cost ~5 ms at 200,000 entries.
        self.unchecked = 0
        self.checked = False
        try:
            _private_folder(folder)
            self.secret = _read_secret(folder)
            self.db = self._open()
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cache {self.path} is unusable: {error}") from None

    def _open(self) -> sqlite3.Connection:
        for attempt in range(2):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # A crash of this process still leaves the database intact; only an OS crash can
                # lose the last writes, and they were only a cache.
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS entries ("
                    " key TEXT PRIMARY KEY, value TEXT NOT NULL, mac TEXT NOT NULL, used REAL NOT NULL)"
                )
                db.execute("SELECT count(*) FROM entries").fetchone()
                return db
            except sqlite3.DatabaseError:
                db.close()
                if attempt:
                    raise
                # Not a database (corrupt, truncated, foreign): it only held cached results.
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.unlink(f"{self.path}{suffix}")
                    except FileNotFoundError:
                        pass
        raise StoreError("unreachable")

    def _mac(self, key: str, value: str) -> str:
        return hmac.new(self.secret, f"{key}\0{value}".encode(), hashlib.sha256).hexdigest()

    def get_many(self, keys: Iterable[str]) -> Dict[str, Any]:
        found: Dict[str, Any] = {}
        wanted = list(dict.fromkeys(keys))
        now = time.time()
        stale = now - self.refresh_after
        refresh: List[str] = []
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(f"SELECT key, value, mac, used FROM entries WHERE key IN ({marks})", chunk)
                for key, value, mac, used in rows:
                    if not hmac.compare_digest(mac, self._mac(key, value)):
                        continue
                    try:
                        found[key] = json.loads(value)
                    except ValueError:
                        continue
                    if used <= stale:
                        refresh.append(key)
            if refresh:  # one transaction: in autocommit mode every UPDATE would be its own
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("UPDATE entries SET used=? WHERE key=?", [(now, k) for k in refresh])
                self.db.execute("COMMIT")
        except sqlite3.Error:  # what was read stands; the use times are best effort
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        return found

    def get(self, key: str) -> Optional[Any]:
        return self.get_many([key]).get(key)

    def put_many(self, items: Dict[str, Any]) -> None:
        if not items:
            return
        now = time.time()
        rows = []
        for key, data in items.items():
            value = json.dumps(data, separators=(",", ":"), sort_keys=True)
            rows.append((key, value, self._mac(key, value), now))
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows)
            self.db.execute("COMMIT")
            self.unchecked += len(rows)
            if not self.checked or self.unchecked >= max(1, self.max_entries // 20):
                self._evict()
                self.checked, self.unchecked = True, 0
        except sqlite3.Error as error:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"cannot write cache {self.path}: {error}") from None

    def items(self) -> Dict[str, Any]:
        """Every entry whose signature holds (for small stores: pending batches)."""
        found: Dict[str, Any] = {}
        try:
            rows = self.db.execute("SELECT key, value, mac FROM entries").fetchall()
        except sqlite3.Error:
            return found
        for key, value, mac in rows:
            if hmac.compare_digest(mac, self._mac(key, value)):
                try:
                    found[key] = json.loads(value)
                except ValueError:
                    continue
        return found

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("DELETE FROM entries WHERE key=?", [(key,) for key in keys])
            self.db.execute("COMMIT")
        except sqlite3.Error as error:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"cannot write cache {self.path}: {error}") from None

    def _evict(self) -> None:
        (count,) = self.db.execute("SELECT count(*) FROM entries").fetchone()
        if count > self.max_entries:
            excess = count - int(self.max_entries * 0.9)
            self.db.execute(
                "DELETE FROM entries WHERE key IN (SELECT key FROM entries ORDER BY used LIMIT ?)", (excess,)
            )

    def stats(self) -> Dict[str, Any]:
        (count,) = self.db.execute("SELECT count(*) FROM entries").fetchone()
        size = sum(os.path.getsize(f"{self.path}{s}") for s in ("", "-wal") if os.path.exists(f"{self.path}{s}"))
        return {"entries": count, "bytes": size, "path": str(self.path)}

    def clear(self) -> None:
        self.db.execute("DELETE FROM entries")
        self.db.execute("VACUUM")

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass
