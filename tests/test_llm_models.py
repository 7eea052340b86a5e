"""The model table (asyncreview/llm/models.toml): a default the installed SDK lists, a price and a
prompt-cache minimum per model, and no guessed price for a model it does not know."""

import re
import typing

import anthropic.types
import pytest
from test_llm import KEY, fake, llm, write_project  # noqa: F401 - fixtures

from asyncreview.llm.models import DEFAULT_MODEL, PRICE_KEYS, known_models, min_cache_tokens, model_table, prices
from asyncreview.llm.settings import LLMSettings, validate_table


def sdk_models():
    """The model names in the installed SDK's `Model` type (a Union of a Literal and str)."""
    names = set()
    for member in typing.get_args(anthropic.types.Model):
        names.update(arg for arg in typing.get_args(member) if isinstance(arg, str))
    return names


def test_the_default_model_is_one_the_installed_sdk_lists_and_has_a_price():
    listed = sdk_models()
    assert len(listed) > 5  # the Literal was read, not an empty Union
    assert DEFAULT_MODEL in listed
    assert LLMSettings().model == DEFAULT_MODEL
    assert prices(DEFAULT_MODEL) is not None and min_cache_tokens(DEFAULT_MODEL) is not None


def test_every_entry_has_four_prices_and_a_cache_minimum():
    assert len(model_table()) >= 4
    for name, entry in model_table().items():
        assert set(entry) == set(PRICE_KEYS) | {"min-cache-tokens"}, name
        assert all(isinstance(entry[key], float) and entry[key] > 0 for key in PRICE_KEYS), name
        # Cache writes cost more than input, reads much less: a swapped column would show here.
        assert entry["cache-read"] < entry["input"] < entry["cache-write"] < entry["output"], name
        assert entry["min-cache-tokens"] in (512, 1024, 2048, 4096), name


def test_a_dated_snapshot_takes_its_models_price_and_nothing_is_guessed():
    assert prices("claude-haiku-4-5-20251001") == prices("claude-haiku-4-5")
    assert prices("claude-haiku-4-5")["output"] == 5.0
    assert min_cache_tokens("claude-opus-4-5-20251101") == 4096
    for unknown in ("someone-elses-model", "claude-sonnet-4-6-turbo", "claude-sonnet", "claude-opus-4-5-2025"):
        assert prices(unknown) is None and min_cache_tokens(unknown) is None


def test_a_dollar_budget_needs_a_known_model():
    assert validate_table({"model": "claude-haiku-4-5-20251001", "max-cost-usd": 1})["max-cost-usd"] == 1.0
    assert validate_table({"max-cost-usd": 1})  # the default model is priced
    assert validate_table({"model": "claude-from-the-future"})  # no dollar budget: fine
    with pytest.raises(ValueError) as raised:
        validate_table({"model": "claude-from-the-future", "max-cost-usd": 1})
    message = str(raised.value)
    assert "claude-from-the-future" in message and "models.toml" in message
    assert all(name in message for name in known_models())


def test_an_unknown_model_with_a_dollar_budget_is_a_configuration_error(llm, fake, project):
    write_project(project, 2, llm='model = "claude-from-the-future"\nmax-cost-usd = 0.5')
    result = llm("--llm", ".")
    assert result.code == 2, result.err
    assert "no price is known for model 'claude-from-the-future'" in result.err
    assert DEFAULT_MODEL in result.err and "models.toml" in result.err
    assert fake.message_requests == 0 and not fake.paths


def test_an_unknown_model_without_a_budget_is_reviewed_and_its_cost_is_unknown(llm, fake, project):
    write_project(project, 2, llm='model = "claude-from-the-future"')
    result = llm("--llm", ".")
    assert result.code == 1, result.err
    assert fake.message_requests == 2 and {body["model"] for body in fake.bodies} == {"claude-from-the-future"}
    assert "cost unknown (no price for this model)" in result.err and "~$" not in result.err


def test_the_default_model_is_what_is_sent(llm, fake, project):
    write_project(project, 1)
    llm("--llm", ".")
    assert [body["model"] for body in fake.bodies] == [DEFAULT_MODEL]


def test_a_price_in_the_config_lets_an_unknown_model_have_a_dollar_budget():
    given = {"input": 2, "output": 10.0, "cache-write": 2.5, "cache-read": 0.2, "min-cache-tokens": 1024}
    checked = validate_table({"model": "claude-from-the-future", "max-cost-usd": 1, "price": given})
    settings = LLMSettings.from_table(checked)
    assert settings.prices() == {"input": 2.0, "output": 10.0, "cache-write": 2.5, "cache-read": 0.2}
    assert settings.min_cache_tokens() == 1024
    assert LLMSettings().prices() == prices(DEFAULT_MODEL) and LLMSettings().min_cache_tokens() == min_cache_tokens(DEFAULT_MODEL)
    for bad in ({"input": 2}, dict(given, input=0), dict(given, extra=1), dict(given, output="10"), "3.0"):
        with pytest.raises(ValueError, match="llm.price"):
            validate_table({"model": "claude-from-the-future", "price": bad})


def test_an_unknown_model_priced_in_the_config_is_billed_at_that_price(llm, fake, project):
    price = "price = { input = 1000.0, output = 1000.0, cache-write = 1000.0, cache-read = 1000.0 }"
    write_project(project, 1, llm=f'model = "claude-from-the-future"\nmax-cost-usd = 50\n{price}')
    result = llm("--llm", ".")
    assert result.code == 1, result.err
    (line,) = [line for line in result.err.splitlines() if "LLM review:" in line and "tokens" in line]
    tokens = sum(int(n) for n in re.search(r"(\d+) input \(\d+ cache write, \d+ cache read\) / (\d+) output tokens", line).groups())
    assert f"~${tokens * 1000.0 / 1e6:.4f}" in line  # every token at the configured 1000 $/MTok
