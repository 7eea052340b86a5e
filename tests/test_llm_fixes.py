"""The reviewer's fixes (issue 22 item 5): structured line edits of the code shown, kept only when
the rules re-run on the edited file no longer find the finding and find nothing new; then an
`unsafe` fix like a rule's own. Through the real console script and the real anthropic SDK
against the fake Messages API."""

import pytest

from fakeapi import FakeAnthropic, single

KEY = "sk-ant-test-fixes"
SOURCE = (
    "import asyncio\n"
    "\n"
    "\n"
    "async def fetch(client):\n"
    "    async with asyncio.timeout(1):\n"  # line 5: ARV101 on Python 3.9, no rule fix (two statements)
    "        response = await client.get('/')\n"
    "        return response.json()\n"
)
RIGHT = "    response = await asyncio.wait_for(client.get('/'), 1)\n    return response.json()\n"


@pytest.fixture
def fake():
    server = FakeAnthropic().start()
    yield server
    server.stop()


@pytest.fixture
def reviewed(cli, fake, project):
    """Runs the CLI with the model answering one review with `edits` as its fix."""
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("app.py", SOURCE)

    def run(edits, *args):
        answer = {"verdict": "confirmed", "severity": "CRITICAL", "explanation": "needs 3.11",
                  "suggested_fix": "use asyncio.wait_for", "fix_edits": edits}
        fake.script = [{"kind": "malformed", "input": single(answer)}]
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": KEY}
        return cli("--llm", "--no-cache", *args, ".", cwd=project.root, env=env)

    return run


def _edit(first, last, replacement):
    return {"first_line": first, "last_line": last, "replacement": replacement}


def test_a_verified_fix_is_an_unsafe_fix_and_fix_unsafe_fixes_applies_it(reviewed, project):
    (finding,) = reviewed([_edit(5, 7, RIGHT)], "--format", "json").json()["findings"]
    assert finding["fix"]["applicability"] == "unsafe" and finding["review"]["fix_verified"] is True
    assert finding["fix"]["edits"] == [{"line": 5, "column": 1, "end_line": 7, "end_column": 31, "content": RIGHT.rstrip("\n")}]
    assert (project.root / "app.py").read_text() == SOURCE  # reported, not applied

    fixed = reviewed([_edit(5, 7, RIGHT)], "--fix", "--unsafe-fixes", "--format", "json")
    assert (project.root / "app.py").read_text() == SOURCE.replace(SOURCE.split("\n", 4)[4], RIGHT)
    assert fixed.json()["findings"] == [] and "applied the LLM reviewer's verified fix to 1 finding" in fixed.err


@pytest.mark.parametrize("edits, why", [
    ([_edit(5, 7, "    response = await (\n")], "the edited file does not parse"),
    ([_edit(5, 5, "    async with asyncio.timeout(2):")], "ARV101 is still found after it"),
    ([_edit(5, 7, "    import time\n    time.sleep(1)\n    return None\n")], "it introduces ARV2"),
    ([_edit(1, 1, "import asyncio, async_timeout")], "it edits lines 1-1, outside the code shown (4-7)"),
])
def test_a_fix_that_does_not_check_out_is_dropped_with_a_note_not_an_error(reviewed, project, edits, why):
    result = reviewed(edits, "--fix", "--unsafe-fixes", "--format", "json")
    (finding,) = result.json()["findings"]
    assert "fix" not in finding and finding["review"]["verdict"] == "confirmed"
    assert f"[suggested fix dropped: {why}" in finding["review"]["explanation"]
    assert (project.root / "app.py").read_text() == SOURCE and result.code == 1


def test_the_rules_own_fix_wins_over_the_reviewers(reviewed, project):
    project.write("app.py", "import asyncio\n\n\nasync def fetch(client):\n    async with asyncio.timeout(1):\n        return await client.get('/')\n")
    (finding,) = reviewed([_edit(5, 6, "    return await client.get('/')\n")], "--format", "json").json()["findings"]
    assert finding["fix"]["edits"][0]["content"] == "return await asyncio.wait_for(client.get('/'), 1)"
    assert "the rule's own fix applies" in finding["review"]["explanation"]


def test_a_reviewer_fix_on_the_finding_line_keeps_its_indentation_in_the_pull_request_suggestion():
    from asyncreview import github_review
    from asyncreview.finding import Finding, Fix, Severity
    from asyncreview.llm.verify import line_edits

    edits, _ = line_edits(SOURCE, [[5, 5, "    async with async_timeout.timeout(1):\n"]], (4, 7))
    finding = Finding("app.py", 5, 16, 5, 31, "ARV101", Severity.CRITICAL, "needs 3.11",
                      "    async with asyncio.timeout(1):", fix=Fix("unsafe", edits))
    body = github_review._comment(finding, {}, "f" * 16)
    assert "Unsafe fix (check it):\n```suggestion\n    async with async_timeout.timeout(1):\n```" in body
