"""The signed store behind every cache: tampering, truncation and foreign files are misses."""

import contextlib
import os
import sqlite3
import stat

from asyncreview.store import SignedStore


def test_round_trip_and_permissions(tmp_path):
    store = SignedStore(tmp_path / "c", "results")
    store.put_many({"k": {"a": [1, 2]}})
    assert store.get("k") == {"a": [1, 2]}
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o700
    for name in ("secret.key", "results.sqlite"):
        assert stat.S_IMODE(os.stat(tmp_path / "c" / name).st_mode) == 0o600


def test_tampered_entry_is_a_miss(tmp_path):
    store = SignedStore(tmp_path, "results")
    store.put_many({"k": {"findings": []}})
    store.db.execute("UPDATE entries SET value=? WHERE key='k'", ('{"findings":[{"evil":1}]}',))
    assert store.get("k") is None


def test_foreign_secret_invalidates_everything(tmp_path):
    SignedStore(tmp_path, "results").put_many({"k": 1})
    (tmp_path / "secret.key").write_bytes(b"short")
    assert SignedStore(tmp_path, "results").get("k") is None


def test_corrupt_database_is_rebuilt(tmp_path):
    SignedStore(tmp_path, "results").put_many({"k": 1})
    (tmp_path / "results.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp_path / f"results.sqlite{suffix}"):
            os.unlink(tmp_path / f"results.sqlite{suffix}")
    store = SignedStore(tmp_path, "results")
    assert store.get("k") is None
    store.put_many({"k": 2})
    assert store.get("k") == 2


def test_eviction_keeps_the_bound(tmp_path):
    store = SignedStore(tmp_path, "results", max_entries=50)
    for batch in range(5):
        store.put_many({f"{batch}-{i}": i for i in range(20)})
    (count,) = store.db.execute("SELECT count(*) FROM entries").fetchone()
    assert count <= 50
    assert store.get("4-19") == 19  # the newest survive


def test_values_are_json_not_pickle(tmp_path):
    store = SignedStore(tmp_path, "results")
    store.put_many({"k": {"x": "y"}})
    with contextlib.closing(sqlite3.connect(str(tmp_path / "results.sqlite"))) as db:
        raw = db.execute("SELECT value FROM entries").fetchone()[0]
    assert raw == '{"x":"y"}'
