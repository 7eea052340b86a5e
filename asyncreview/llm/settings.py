"""`[tool.asyncreview.llm]`: the model, its parameters and the orchestrator's limits."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Optional

from asyncreview.llm import models
from asyncreview.llm.models import DEFAULT_MODEL, PRICE_KEYS, model_entry, unknown_model_problem
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
    price: Optional[Dict[str, float]] = None  # a model not in models.toml: its prices, given in the config
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

    def prices(self) -> Optional[Dict[str, float]]:
        """USD per million tokens: the config's `price`, else models.toml's; None if unknown."""
        if self.price is not None:
            return {key: self.price[key] for key in PRICE_KEYS}
        return models.prices(self.model)

    def min_cache_tokens(self) -> Optional[int]:
        """The shortest prefix the model caches: the config's `price` table may say, else models.toml."""
        if self.price is not None and "min-cache-tokens" in self.price:
            return int(self.price["min-cache-tokens"])
        return models.min_cache_tokens(self.model)

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


def _price(value: Any) -> Dict[str, float]:
    """`price = {input = 3.0, output = 15.0, cache-write = 3.75, cache-read = 0.30}`, USD per
    million tokens (and optionally min-cache-tokens): for a model models.toml does not list."""
    if not isinstance(value, dict) or not set(PRICE_KEYS) <= set(value) or not set(value) <= set(PRICE_KEYS) | {"min-cache-tokens"}:
        raise ValueError(f"expected a table of {', '.join(PRICE_KEYS)} (USD per million tokens), optionally min-cache-tokens")
    checked = {key: _positive_number(value[key]) for key in PRICE_KEYS}
    if "min-cache-tokens" in value:
        checked["min-cache-tokens"] = _positive_int(value["min-cache-tokens"])
    return checked


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
    "price": _price,
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
    if checked.get("max-cost-usd") is not None and model_entry(model) is None and "price" not in checked:
        raise ValueError(unknown_model_problem(model))
    return checked
