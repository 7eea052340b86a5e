"""`[tool.asyncreview.llm]`: the model, its parameters and the orchestrator's limits."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Optional

from asyncreview.llm.models import DEFAULT_MODEL, model_entry, unknown_model_problem
from asyncreview.llm.validate import SEVERITIES  # least severe first


@dataclass(frozen=True)
class LLMSettings:
    enabled: bool = False
    model: str = DEFAULT_MODEL
    max_tokens: int = 1024
    temperature: Optional[float] = None  # unset: the model's default (this SDK has no such argument)
    max_concurrency: int = 4
    requests_per_minute: Optional[float] = None  # None: learned from the rate-limit headers
    input_tokens_per_minute: Optional[float] = None
    output_tokens_per_minute: Optional[float] = None
    timeout: float = 60.0
    max_requests: Optional[int] = None
    max_cost_usd: Optional[float] = None
    max_input_tokens: Optional[int] = 2_000_000  # estimated input tokens one run may send
    # The most severe grade a refutation may hide: the model never turns a CRITICAL finding off.
    llm_may_hide: str = "WARNING"

    @classmethod
    def from_table(cls, table: Optional[Dict[str, Any]]) -> "LLMSettings":
        values = {key.replace("-", "_"): value for key, value in (table or {}).items()}
        return cls(**values)

    def may_hide(self, severity: str) -> bool:
        """Whether a refutation hides a finding of this (local) severity."""
        if severity not in SEVERITIES or self.llm_may_hide not in SEVERITIES:  # "NONE" hides nothing
            return False
        return SEVERITIES.index(severity) <= SEVERITIES.index(self.llm_may_hide)

    def parameters(self) -> Dict[str, Any]:
        """What changes the model's answer: part of every cache key."""
        return {"model": self.model, "max_tokens": self.max_tokens, "temperature": self.temperature}


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a positive integer")
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError("expected a positive number")
    return float(value)


def _temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError("expected a number from 0 to 1")
    return float(value)


def may_hide_level(value: Any) -> str:
    """`llm-may-hide`: a severity (that one and the ones below it) or "none"."""
    if not isinstance(value, str) or value.strip().upper() not in SEVERITIES + ("NONE",):
        raise ValueError("expected one of none, suggestion, warning, critical")
    return value.strip().upper()


VALIDATORS = {
    "enabled": _bool,
    "model": _string,
    "max-tokens": _positive_int,
    "temperature": _temperature,
    "max-concurrency": _positive_int,
    "requests-per-minute": _positive_number,
    "input-tokens-per-minute": _positive_number,
    "output-tokens-per-minute": _positive_number,
    "timeout": _positive_number,
    "max-requests": _positive_int,
    "max-cost-usd": _positive_number,
    "max-input-tokens": _positive_int,
    "llm-may-hide": may_hide_level,
}
assert {f.name.replace("_", "-") for f in fields(LLMSettings)} == set(VALIDATORS)


def validate_table(value: Any) -> Dict[str, Any]:
    """The config validator for the `llm` table; ValueError names the bad key."""
    if not isinstance(value, dict):
        raise ValueError("expected a table")
    checked = {}
    for key, raw in value.items():
        validator = VALIDATORS.get(key)
        if validator is None:
            raise ValueError(f"unknown key {key!r} in the llm table (known: {', '.join(VALIDATORS)})")
        try:
            checked[key] = validator(raw)
        except ValueError as error:
            raise ValueError(f"llm.{key}: {error}") from None
    model = checked.get("model", DEFAULT_MODEL)
    if checked.get("max-cost-usd") is not None and model_entry(model) is None:
        raise ValueError(unknown_model_problem(model))
    return checked
