"""Reviews cached in the shared SignedStore, content-addressed by the request (snippet and its
context, rule and rule version, prompt version, model, parameters). Entries hold the validated
review and token usage only: never a header, never the key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from asyncreview.store import SignedStore, StoreError

STORE_NAME = "llm-reviews-v1"
MAX_ENTRIES = 50_000


class ReviewCache:
    """Reviews arrive one at a time while requests are in flight; each write is an SQLite
    transaction on the event loop's thread, so they are written in small groups (and on close):
    a killed run loses at most the last few answers."""

    FLUSH_EVERY = 16
    FLUSH_SECONDS = 2.0

    def __init__(self, folder: Path) -> None:
        self.store = SignedStore(folder, STORE_NAME, max_entries=MAX_ENTRIES, refresh_after=0.0)
        self.pending: Dict[str, Any] = {}
        self.flushed_at = time.monotonic()

    def get_many(self, keys: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        keys = list(keys)
        found = {key: self.pending[key][0] for key in keys if key in self.pending}
        for key, entry in self.store.get_many(k for k in keys if k not in found).items():
            review = entry.get("review") if isinstance(entry, dict) else None
            if isinstance(review, dict) and set(review) - {"fix_edits"} == {"verdict", "severity", "explanation", "suggested_fix"}:
                found[key] = review
        return found

    def put(self, key: str, review: Dict[str, Any], usage: Optional[Dict[str, int]] = None) -> None:
        self.pending[key] = (review, usage)
        if len(self.pending) >= self.FLUSH_EVERY or time.monotonic() - self.flushed_at >= self.FLUSH_SECONDS:
            self.flush()

    def put_many(self, items: Dict[str, Any]) -> None:
        self.store.put_many({key: {"review": review, "usage": usage or {}} for key, (review, usage) in items.items()})

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        self.flushed_at = time.monotonic()
        if pending:
            self.put_many(pending)

    def stats(self) -> Dict[str, Any]:
        return self.store.stats()

    def clear(self) -> None:
        self.store.clear()

    def close(self) -> None:
        try:
            self.flush()
        except StoreError:
            pass  # the reviews were used in this run; only the next run pays for them again
        finally:
            self.store.close()


def open_cache(folder: Path) -> "tuple[Optional[ReviewCache], Optional[str]]":
    try:
        return ReviewCache(folder), None
    except StoreError as error:
        return None, f"{error}; LLM reviews are not cached"
