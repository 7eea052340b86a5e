"""Every documented example in rules/ runs as a test: flagged examples produce exactly the findings
their `# ARVnnn` markers name, clean examples produce none."""

from pathlib import Path

import pytest

from asyncreview import plugins
from asyncreview.testing import all_examples, all_fixed_examples, example_outcome, fixed_outcome, fixture_outcome

RULES = plugins.all_rules()
EXAMPLES = list(all_examples(RULES))
FIXED = list(all_fixed_examples(RULES))
FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*/*.py"))


def family_rules(rule):
    return [r for r in RULES if r.family == rule.family]


@pytest.mark.parametrize(
    "rule, code, number, example",
    EXAMPLES,
    ids=[f"{code}-{'flagged' if ex.flagged else 'clean'}-{n}" for _, code, n, ex in EXAMPLES],
)
def test_documented_example(rule, code, number, example):
    expected, actual = example_outcome(example, family_rules(rule))
    if example.flagged:
        assert any(c == code for _, c in expected), "a flagged example must mark the rule's own code"
    else:
        assert expected == []
    assert actual == expected


def test_every_rule_code_has_flagged_and_clean_examples():
    for rule in RULES:
        docs = rule.docs()
        for code in rule.codes:
            assert code in docs, f"{code} has no entry in rules/{rule.family}/rules.toml"
            kinds = {example.flagged for example in docs[code].examples}
            assert kinds == {True, False}, f"{code} needs flagged and clean examples"


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
def test_fixture_file(path):
    family = path.parent.name
    rules = [r for r in RULES if r.family == family]
    assert rules, f"no rule family {family!r} for fixture folder"
    expected, actual, findings = fixture_outcome(path, rules)
    assert expected, "a fixture file must expect at least one finding"
    assert actual == expected, "\n".join(f"{f.line}: {f.code} {f.message}" for f in findings)


@pytest.mark.parametrize("rule, code, number, example", FIXED, ids=[f"{code}-fixed-{n}" for _, code, n, _ in FIXED])
def test_documented_fix(rule, code, number, example):
    """`before` becomes `after` through the real engine and fixer: a safe fix without
    --unsafe-fixes, an unsafe one only with it (without, the file stays as it was)."""
    assert example.applicability in ("safe", "unsafe")
    assert example.before != example.after
    safe_only, with_unsafe = fixed_outcome(example, family_rules(rule))
    assert with_unsafe == example.after
    assert safe_only == (example.after if example.applicability == "safe" else example.before)


def test_fixed_examples_are_documented_for_the_fixes_that_exist():
    assert {code for _, code, _, _ in FIXED} >= {"ARV201", "ARV504"}


def test_every_correctness_rule_says_what_would_refute_it():
    from asyncreview.catalogue import rule_docs

    for code, doc in rule_docs("correctness").items():
        assert len(doc.refuted_by) > 20, f"{code} needs a `refuted_by` for the LLM reviewer"


@pytest.mark.parametrize("value", ["", "   ", 7, ["a list"]])
def test_a_refuted_by_that_is_not_text_is_a_catalogue_error(value):
    from asyncreview.catalogue import _optional_text

    with pytest.raises(ValueError, match="refuted_by"):
        _optional_text({"refuted_by": value}, "refuted_by", "correctness/ARV999")
    assert _optional_text({}, "refuted_by", "correctness/ARV999") == ""
    assert _optional_text({"refuted_by": " a\n  b "}, "refuted_by", "correctness/ARV999") == "a b"
