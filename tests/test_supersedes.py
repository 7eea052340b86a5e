"""One mistake, one finding: a rule's catalogue entry may name codes its finding replaces at the
same place (`supersedes`); the replaced finding comes back when the superseding rule is off."""

import textwrap

from asyncreview.checks import correctness, retry
from asyncreview.plugins import all_rules
from asyncreview.testing import findings_for

RETRY_SWALLOW = textwrap.dedent(
    """
    import asyncio

    async def poll(fetch):
        while True:
            try:
                return await fetch()
            except BaseException:
                await asyncio.sleep(1)

    async def once(fetch):
        try:
            return await fetch()
        except BaseException:
            return None
    """
)
RULES = [*retry.RULES, *correctness.RULES]


def test_a_retry_loop_swallowing_cancellation_is_one_finding_and_a_plain_swallow_stays():
    found = sorted((f.line, f.code) for f in findings_for(RETRY_SWALLOW, RULES))
    assert found == [(8, "ARV404"), (14, "ARV501")]


def test_the_superseded_finding_returns_when_the_superseding_rule_is_off():
    found = sorted((f.line, f.code) for f in findings_for(RETRY_SWALLOW, correctness.RULES))
    assert found == [(8, "ARV501"), (14, "ARV501")]


def test_every_superseded_code_is_a_known_code_of_another_rule():
    docs = {code: doc for rule in all_rules() for code, doc in rule.docs().items()}
    pairs = [(code, gone) for code, doc in docs.items() for gone in doc.supersedes]
    assert ("ARV404", "ARV501") in pairs
    for code, gone in pairs:
        assert gone in docs and gone != code
