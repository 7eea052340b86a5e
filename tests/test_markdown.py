"""`--format markdown`: summary tables that match the run, details per finding, escaping of
untrusted text, and a size bound that keeps it postable as a PR comment or job summary."""

import re

import pytest

from asyncreview.finding import Finding, Severity
from asyncreview.pipeline import RunResult
from asyncreview.reporters import ReportContext
from asyncreview.reporters.markdown import MAX_BYTES, render

APP = """\
import asyncio
import time


async def main():
    time.sleep(1)
    async with asyncio.timeout(3):
        f = open("x")
"""


@pytest.fixture
def app(project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("app.py", APP)
    return project


def test_tables_match_the_json_summary(cli, app):
    result = cli("--format", "markdown", cwd=app.root)
    assert result.code == 1
    summary = cli("--format", "json", cwd=app.root).json()["summary"]
    text = result.out
    assert text.startswith("## asyncreview")
    for severity, count in summary["by_severity"].items():
        assert re.search(rf"^\| \S+ {severity.capitalize()} \| {count} \|$", text, re.M), severity
    for code, count in summary["by_code"].items():
        assert re.search(rf"^\| \[`{code}`\]\(https://[^)]+\) [a-z-]+ \| \w+ \| {count} \| .+ \|$", text, re.M), code
    details = re.findall(r"^#### .* at `app\.py:(\d+):(\d+)`$", text, re.M)
    assert len(details) == summary["findings"]
    assert "    time.sleep(1)" in text and "```python" in text


def test_clean_run(cli, app):
    app.write("app.py", "import asyncio\n\n\nasync def main():\n    await asyncio.sleep(1)\n")
    result = cli("--format", "markdown", cwd=app.root)
    assert result.code == 0 and "No findings in 1 file checked." in result.out and "####" not in result.out


def _result(findings, files=1):
    return RunResult(findings=findings, files=[f"f{i}.py" for i in range(files)], parsed=files, notices=[], threshold=Severity.SUGGESTION)


def _finding(line, message="m", snippet="x = 1", review=None, severity=Severity.WARNING):
    return Finding("a.py", line, 1, line, 4, "ARV201", severity, message, snippet, review=review)


def test_untrusted_text_is_escaped():
    review = {"verdict": "confirmed", "severity": "WARNING", "explanation": "<img src=x onerror=alert(1)> | @octocat", "suggested_fix": ""}
    snippet = "s = '```'  # a fence inside the code"
    text = render(ReportContext(result=_result([_finding(3, "a <script> | b", snippet, review)])))
    assert "<script>" not in text and "<img" not in text
    assert "a &lt;script&gt; \\| b" in text
    assert "@octocat" not in text  # no mention pings from a report
    fence = re.search(r"^(`{3,})python$", text, re.M).group(1)
    assert len(fence) > 3 and snippet in text


def test_size_is_bounded_and_says_what_was_left_out():
    findings = [_finding(n, "message " * 40, "value = compute()  " * 8, severity=Severity.CRITICAL if n % 3 == 0 else Severity.SUGGESTION) for n in range(1, 3001)]
    findings.sort(key=Finding.sort_key)
    text = render(ReportContext(result=_result(findings)))
    assert len(text.encode("utf-8")) <= MAX_BYTES <= 65_536
    shown = len(re.findall(r"^#### ", text, re.M))
    assert 10 < shown < 3000
    assert f"_{3000 - shown} more findings not shown" in text
    assert "| 1000 |" in text and "| 2000 |" in text  # the tables stay complete
    first = text.index("####")
    assert "CRITICAL" in text[first : first + 400], "the most severe come first"


def test_refuted_findings_are_counted_not_shown():
    refuted = _finding(5, "refuted one", review={"verdict": "false_positive", "severity": "WARNING", "explanation": "fine", "suggested_fix": ""})
    text = render(ReportContext(result=_result([_finding(2, "kept one"), refuted])))
    assert "kept one" in text and "refuted one" not in text and "1 finding refuted by the LLM reviewer" in text
    shown = render(ReportContext(result=_result([refuted]), show_refuted=True))
    assert "refuted one" in shown and "LLM review: false_positive" in shown
