"""The models asyncreview can price (models.toml, kept as data): the cost estimate, the
max-cost-usd budget and the prompt-cache minimum all read it. An unknown model has no price:
a budget in dollars cannot be enforced for it, so that is a configuration error, not a guess."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

PRICE_KEYS = ("input", "output", "cache-write", "cache-read")
DATED = re.compile(r"-\d{8}$")  # claude-haiku-4-5-20251001: a snapshot of claude-haiku-4-5


@functools.lru_cache(maxsize=None)
def model_table() -> Dict[str, Dict[str, Any]]:
    from asyncreview.catalogue import tomllib

    with open(Path(__file__).with_name("models.toml"), "rb") as handle:
        return tomllib.load(handle)["models"]


def known_models() -> List[str]:
    return list(model_table())


DEFAULT_MODEL = "claude-sonnet-4-6"


def model_entry(model: str) -> Optional[Dict[str, Any]]:
    """The table's entry for `model` (exact name, or the name with a date suffix), else None."""
    table = model_table()
    return table.get(model) or table.get(DATED.sub("", model))


def prices(model: str) -> Optional[Dict[str, float]]:
    """USD per million tokens for input, output, cache-write and cache-read; None if unknown."""
    entry = model_entry(model)
    return {key: float(entry[key]) for key in PRICE_KEYS} if entry else None


# The prompt-caching documentation's smallest minimum: a model the table does not list is assumed
# to cache a prefix this long (a longer minimum only means "caching is off" is said too late).
DEFAULT_MIN_CACHE_TOKENS = 1024


def min_cache_tokens(model: str) -> Optional[int]:
    """The shortest prefix the model caches; None for a model not in the table."""
    entry = model_entry(model)
    return int(entry["min-cache-tokens"]) if entry else None


def unknown_model_problem(model: str) -> str:
    return (
        f"llm.max-cost-usd: no price is known for model {model!r}, so a dollar budget cannot be "
        f"enforced (known: {', '.join(known_models())}); use one of those, give its prices in the "
        "llm table (price = {input = ..., output = ..., cache-write = ..., cache-read = ...}, USD per "
        "million tokens) or add them to asyncreview/llm/models.toml, or budget with max-input-tokens / max-requests"
    )
