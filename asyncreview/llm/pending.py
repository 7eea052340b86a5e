"""Message batches submitted and not yet collected, kept in the cache folder: a run that is
interrupted (Ctrl-C, a CI timeout, `--no-wait`) leaves its batch id here, and the next
`--llm-batch` run collects that batch instead of paying for the same reviews again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Iterable, List

from asyncreview.store import SignedStore, StoreError

STORE_NAME = "llm-batches-v1"
# The API deletes a batch's results 29 days after it was created: a record older than that
# can no longer be collected.
KEEP_SECONDS = 29 * 24 * 3600.0


class PendingBatches:
    """Records are {"keys": the batch's custom_ids, "submitted": unix time}, by batch id."""

    def __init__(self, folder: Path) -> None:
        self.store = SignedStore(folder, STORE_NAME, max_entries=10_000, refresh_after=float("inf"))

    def load(self) -> Dict[str, Dict[str, Any]]:
        found: Dict[str, Dict[str, Any]] = {}
        too_old: List[str] = []
        for batch_id, record in self.store.items().items():
            keys = record.get("keys") if isinstance(record, dict) else None
            submitted = record.get("submitted") if isinstance(record, dict) else None
            if not isinstance(keys, list) or not isinstance(submitted, (int, float)):
                too_old.append(batch_id)  # not a record this version wrote
            elif time.time() - submitted > KEEP_SECONDS:
                too_old.append(batch_id)
            else:
                found[batch_id] = {"keys": [key for key in keys if isinstance(key, str)], "submitted": submitted}
        try:
            self.store.delete_many(too_old)
        except StoreError:  # tried again next run
            pass
        return found

    def add(self, batch_id: str, keys: Iterable[str]) -> None:
        self.store.put_many({batch_id: {"keys": sorted(keys), "submitted": time.time()}})

    def remove(self, batch_id: str) -> None:
        self.store.delete_many([batch_id])

    def close(self) -> None:
        self.store.close()
