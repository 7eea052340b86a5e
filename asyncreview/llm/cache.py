"""Reviews cached in the shared SignedStore, content-addressed by the request (snippet and its
context, rule and rule version, prompt version, model, parameters). Entries hold the validated
review and token usage only: never a header, never the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from asyncreview.store import SignedStore, StoreError

STORE_NAME = "llm-reviews-v1"
MAX_ENTRIES = 50_000


class ReviewCache:
    def __init__(self, folder: Path) -> None:
        self.store = SignedStore(folder, STORE_NAME, max_entries=MAX_ENTRIES, refresh_after=0.0)

    def get_many(self, keys: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        found = {}
        for key, entry in self.store.get_many(keys).items():
            review = entry.get("review") if isinstance(entry, dict) else None
            if isinstance(review, dict) and set(review) == {"verdict", "severity", "explanation", "suggested_fix"}:
                found[key] = review
        return found

    def put(self, key: str, review: Dict[str, Any], usage: Optional[Dict[str, int]] = None) -> None:
        self.put_many({key: (review, usage)})

    def put_many(self, items: Dict[str, Any]) -> None:
        self.store.put_many({key: {"review": review, "usage": usage or {}} for key, (review, usage) in items.items()})

    def stats(self) -> Dict[str, Any]:
        return self.store.stats()

    def clear(self) -> None:
        self.store.clear()

    def close(self) -> None:
        self.store.close()


def open_cache(folder: Path) -> "tuple[Optional[ReviewCache], Optional[str]]":
    try:
        return ReviewCache(folder), None
    except StoreError as error:
        return None, f"{error}; LLM reviews are not cached"
