"""The built-in rule families. They register through the same pluggy hook (entry-point group
`asyncreview`) that a third-party rule pack uses."""

from __future__ import annotations

from typing import List

from asyncreview.plugins import hookimpl


@hookimpl
def asyncreview_rules() -> List[type]:
    from asyncreview.checks import awaited, blocking, cleanup, compat, correctness, loop_compat, resources, retry, structured

    return [
        *compat.RULES, *blocking.RULES, *resources.RULES, *retry.RULES, *correctness.RULES,
        *awaited.RULES, *structured.RULES, *cleanup.RULES, *loop_compat.RULES,
    ]
