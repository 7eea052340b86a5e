"""Other linters' codes that mean an asyncreview finding (rules/common/peers.toml): a `# noqa:
ASYNC251` on a `time.sleep()` line hides ARV201 there too, so a project moving from flake8-async
or ruff keeps its annotations. Matched per finding kind, never per rule alone: ASYNC230 (open)
does not hide an ARV201 for time.sleep."""

from __future__ import annotations

import functools
from fnmatch import fnmatchcase
from typing import Dict, List, Tuple

from asyncreview.catalogue import load_table
from asyncreview.finding import Finding
from asyncreview.source import NoqaMap, is_suppressed


@functools.lru_cache(maxsize=1)
def _peers() -> Dict[str, List[Tuple[Tuple[str, ...], Tuple[str, ...]]]]:
    """asyncreview code -> [(peer codes, kinds)]."""
    table: Dict[str, List[Tuple[Tuple[str, ...], Tuple[str, ...]]]] = {}
    for peer in load_table("common", "peers")["peer"]:
        table.setdefault(peer["suppresses"], []).append((tuple(peer["codes"]), tuple(peer.get("kinds", ()))))
    return table


@functools.lru_cache(maxsize=4096)
def peer_codes(code: str, kind: str) -> Tuple[str, ...]:
    """The peers' codes that mean a finding of this code and kind."""
    found: List[str] = []
    for codes, kinds in _peers().get(code, ()):
        if not kinds or any(fnmatchcase(kind, pattern) for pattern in kinds):
            found.extend(codes)
    return tuple(found)


def suppressed_by_peer(noqa: NoqaMap, lines: Tuple[int, ...], finding: Finding) -> bool:
    """Whether a `# noqa` on one of `lines` names a peer code of this finding (or its prefix)."""
    return any(is_suppressed(noqa, lines, code) for code in peer_codes(finding.code, finding.kind))
