"""ARV501's three ways to lose a cancellation and their severities: swallowed (CRITICAL), turned
into another exception (WARNING: the task still ends, with the wrong error), yielded past in an
async generator (CRITICAL: the consumer gets a value instead)."""

import textwrap

from asyncreview.checks import correctness
from asyncreview.finding import Severity
from asyncreview.testing import findings_for

SOURCE = textwrap.dedent(
    """
    import asyncio

    async def swallowed(client):
        try:
            await client.get("/")
        except asyncio.CancelledError:
            return None

    async def converted(client):
        try:
            await client.get("/")
        except asyncio.CancelledError as err:
            raise ConnectionError("stopped") from err

    async def yielded(client):
        try:
            yield await client.get("/")
        except asyncio.CancelledError:
            yield None
            raise
    """
)


def test_each_kind_is_found_at_its_place_with_its_severity():
    found = sorted((f.line, f.severity) for f in findings_for(SOURCE, correctness.RULES) if f.code == "ARV501")
    assert found == [(7, Severity.CRITICAL), (13, Severity.WARNING), (20, Severity.CRITICAL)]


def test_the_conversion_message_names_the_exception_raised_instead():
    messages = {f.line: f.message for f in findings_for(SOURCE, correctness.RULES)}
    assert "turns asyncio.CancelledError into `ConnectionError`" in messages[13]
    assert messages[20].startswith("`yield` while an async generator handles a cancellation")
