"""A fix the model suggests is kept only when asyncreview can check it: its edits replace lines of
the code the request showed, the edited file parses, and the rules re-run on it (the real engine,
the file's own settings) no longer find the finding and find nothing new. The cache keeps the
model's edits, not the verdict on them: the rest of the file may have changed since, so every
run checks them again (one analysis of one file per suggested fix)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import List, Optional, Sequence, Tuple

from asyncreview import source as src
from asyncreview.finding import UNSAFE, Edit, Finding, Fix


def line_edits(text: str, edits: Sequence[Sequence], shown: Tuple[int, int]) -> Tuple[Optional[List[Edit]], str]:
    """The model's [first, last, replacement] line edits as Edits, or None and why not."""
    lines = text.splitlines()
    first_shown, last_shown = shown
    out: List[Edit] = []
    for first, last, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        if first < first_shown or last > last_shown or last > len(lines):
            return None, f"it edits lines {first}-{last}, outside the code shown ({first_shown}-{last_shown})"
        if out and first <= out[-1].end_line:
            return None, "its edits overlap"
        # whole lines, their line ends kept: the edit ends where the last line's text ends
        out.append(Edit(first, 1, last, len(lines[last - 1]) + 1, replacement.rstrip("\r\n")))
    return out, ""


def verified_fix(finding: Finding, edits: Sequence[Sequence], shown: Tuple[int, int], data: bytes,
                 settings, rules) -> Tuple[Optional[Fix], str]:
    """The model's edits as an `unsafe` Fix, or None and why it was dropped."""
    from asyncreview.engine import analyze
    from asyncreview.fixing import apply_fixes

    candidate, why = line_edits(src.decode(data), edits, shown)
    if candidate is None:
        return None, why
    fix = Fix(UNSAFE, candidate)
    edited, applied, _ = apply_fixes(data, [dataclasses.replace(finding, fix=fix)])
    if not applied:
        return None, "the edited file does not parse"
    before = Counter(f.code for f in analyze(data, settings, rules, finding.path).findings)
    after = Counter(f.code for f in analyze(edited, settings, rules, finding.path).findings)
    if after[finding.code] >= before[finding.code]:
        return None, f"{finding.code} is still found after it"
    new = sorted(code for code in after if after[code] > before[code])
    if new:
        return None, f"it introduces {', '.join(new)}"
    return fix, ""
