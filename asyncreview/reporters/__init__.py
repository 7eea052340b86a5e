"""Reporters turn a finished run into text. They see findings and rule documentation (data), never
rule classes; new formats come in through the `asyncreview_reporters` hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict

from asyncreview.catalogue import RuleDoc
from asyncreview.plugins import hookimpl


@dataclass
class ReportContext:
    result: object  # pipeline.RunResult
    docs: Dict[str, RuleDoc] = field(default_factory=dict)
    color: bool = False
    statistics: bool = False
    quiet: bool = False
    show_refuted: bool = False


Reporter = Callable[[ReportContext], str]


@hookimpl
def asyncreview_reporters() -> Dict[str, Reporter]:
    from asyncreview.reporters import github, json_report, markdown, sarif, text

    return {
        "text": text.render,
        "json": json_report.render,
        "sarif": sarif.render,
        "github": github.render,
        "markdown": markdown.render,
    }
