"""Message batches submitted and not yet collected, kept in the cache folder: a run that is
interrupted (Ctrl-C, a CI timeout, `--no-wait`) leaves its batch id here, and the next
`--llm-batch` run collects that batch instead of paying for the same reviews again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

from asyncreview.store import SignedStore, StoreError

STORE_NAME = "llm-batches-v1"
# The API deletes a batch's results 29 days after it was created: a record older than that
# can no longer be collected.
KEEP_SECONDS = 29 * 24 * 3600.0


class PendingBatches:
    """Records are {"requests": {custom_id: the item keys it carries, in the order of the
    finding ids F1, F2 ...}, "keys": all those item keys, "submitted": unix time}, by batch id:
    enough for a later run to tell which of its findings each answer is about."""

    def __init__(self, folder: Path) -> None:
        self.store = SignedStore(folder, STORE_NAME, max_entries=10_000, refresh_after=float("inf"))

    def load(self) -> Dict[str, Dict[str, Any]]:
        found: Dict[str, Dict[str, Any]] = {}
        too_old: List[str] = []
        for batch_id, record in self.store.items().items():
            requests = record.get("requests") if isinstance(record, dict) else None
            submitted = record.get("submitted") if isinstance(record, dict) else None
            if not isinstance(requests, dict) or not isinstance(submitted, (int, float)):
                too_old.append(batch_id)  # not a record this version wrote
            elif time.time() - submitted > KEEP_SECONDS:
                too_old.append(batch_id)
            else:
                held = {
                    custom_id: [key if isinstance(key, str) else "" for key in keys]  # keeps the positions
                    for custom_id, keys in requests.items()
                    if isinstance(keys, list)
                }
                keys = sorted({key for keys in held.values() for key in keys if key})
                found[batch_id] = {"requests": held, "keys": keys, "submitted": submitted}
        try:
            self.store.delete_many(too_old)
        except StoreError:  # tried again next run
            pass
        return found

    def add(self, batch_id: str, requests: Dict[str, List[str]]) -> None:
        """`requests`: custom_id -> the item keys of its findings, in the order of their ids."""
        self.store.put_many({batch_id: {"requests": requests, "submitted": time.time()}})

    def remove(self, batch_id: str) -> None:
        self.store.delete_many([batch_id])

    def close(self) -> None:
        self.store.close()
