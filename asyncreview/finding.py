"""The one record every stage passes on: rules make it, suppressions filter it, the LLM stage
annotates it, reporters print it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple


class Severity(str, enum.Enum):
    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    SUGGESTION = "SUGGESTION"

    @property
    def rank(self) -> int:
        """Higher is more severe; sorts reports and compares against --fail-on."""
        return _RANKS[self]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.strip().upper())
        except ValueError:
            choices = ", ".join(s.value.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


_RANKS = {Severity.SUGGESTION: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


SAFE, UNSAFE = "safe", "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, column) up to (end_line, end_column) by `content`; 1-based,
    end exclusive, counted as the finding's own range is (code points). An insertion is empty."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    @property
    def start(self) -> Tuple[int, int]:
        return (self.line, self.column)

    @property
    def end(self) -> Tuple[int, int]:
        return (self.end_line, self.end_column)


@dataclass
class Fix:
    """A rule's fix, as data every stage can carry: edits that do not overlap, and whether the
    rule vouches for them (`safe`: behaviour kept for every input it can tell of) or only for the
    common case (`unsafe`: applied with --unsafe-fixes)."""

    applicability: str
    edits: List[Edit]

    @property
    def safe(self) -> bool:
        return self.applicability == SAFE

    def to_dict(self) -> Dict[str, Any]:
        return {"applicability": self.applicability, "edits": [asdict(edit) for edit in self.edits]}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Fix":
        return cls(str(data["applicability"]), [Edit(**edit) for edit in data["edits"]])


@dataclass
class Finding:
    """Columns are 1-based; end_column is exclusive, as SARIF counts it."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    severity: Severity
    message: str
    snippet: str = ""
    source: str = "local"
    review: Optional[Dict[str, Any]] = None
    # Line of the statement that holds the finding: a `# noqa` there covers the whole statement.
    statement_line: int = field(default=0, repr=False, compare=False)
    # Which table entry the finding came from (ARV201: the blocking call's qualified name): peers'
    # suppression codes are matched per kind (asyncreview.peers).
    kind: str = field(default="", repr=False, compare=False)
    fix: Optional[Fix] = None

    @property
    def hidden_by_review(self) -> bool:
        """Refuted by the LLM reviewer at a severity `llm-may-hide` lets it hide: left out of the
        report and the exit code unless --show-refuted. A disputed refutation hides nothing."""
        review = self.review
        return bool(review and review.get("verdict") == "false_positive" and not review.get("disputed"))

    def sort_key(self):
        return (-self.severity.rank, self.path, self.line, self.column, self.code)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        del data["statement_line"], data["kind"]
        if data["review"] is None:
            del data["review"]
        if self.fix is None:
            del data["fix"]
        else:
            data["fix"] = self.fix.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Finding":
        values = dict(data)
        values["severity"] = Severity(values["severity"])
        if values.get("fix") is not None:
            values["fix"] = Fix.from_dict(values["fix"])
        return cls(**values)


def describe_error(error: BaseException) -> str:
    """An exception as one line, for an internal-error diagnostic: its type, its message and the
    place it was raised, so a report (or CI log) names the broken part without a traceback."""
    import os
    import traceback

    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ is not None else []
    if frames:
        folder, name = os.path.split(frames[-1].filename)
        text += f" (at {os.path.basename(folder)}/{name}:{frames[-1].lineno})"
    return text
