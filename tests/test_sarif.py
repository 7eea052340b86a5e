"""`--format sarif` through the real CLI: valid SARIF 2.1.0 (the OASIS schema, vendored), every
rule documented in tool.driver, results that agree with the JSON report, and fingerprints that
survive lines moving."""

import json
from pathlib import Path

import jsonschema
import pytest
from fakeapi import FakeAnthropic

from asyncreview import plugins

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

APP = """\
import asyncio
import time


async def main():
    time.sleep(1)
    async with asyncio.timeout(3):
        await asyncio.sleep(1)
    time.sleep(2); time.sleep(2)
"""


@pytest.fixture
def app(project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("pkg/app.py", APP)
    return project


def sarif(cli, cwd, *args):
    result = cli("--format", "sarif", *args, cwd=cwd)
    assert result.code in (0, 1), result.err
    document = json.loads(result.out)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
    return result, document


def test_valid_and_agrees_with_the_json_report(cli, app):
    result, document = sarif(cli, app.root)
    assert result.code == 1
    findings = cli("--format", "json", cwd=app.root).json()["findings"]
    run = document["runs"][0]
    results = run["results"]
    assert len(results) == len(findings) >= 4
    levels = {"CRITICAL": "error", "WARNING": "warning", "SUGGESTION": "note"}
    for item, finding in zip(results, findings):
        assert item["ruleId"] == finding["code"]
        assert item["level"] == levels[finding["severity"]]
        assert item["message"]["text"] == finding["message"]
        location = item["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "pkg/app.py", "uriBaseId": "%SRCROOT%"}
        region = location["region"]
        assert (region["startLine"], region["startColumn"], region["endLine"], region["endColumn"]) == (
            finding["line"], finding["column"], finding["end_line"], finding["end_column"]
        )
        assert run["tool"]["driver"]["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
    # Columns are 1-based with an exclusive end, so the region is exactly the flagged text.
    first = next(r for r in results if r["ruleId"] == "ARV201")
    region = first["locations"][0]["physicalLocation"]["region"]
    line = APP.splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == "time.sleep(1)"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/proj/")


def test_driver_documents_every_rule(cli, app):
    _, document = sarif(cli, app.root)
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["name"] == "asyncreview" and driver["version"] and driver["informationUri"].startswith("https://")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    docs = {}
    for rule in plugins.all_rules():
        docs.update(rule.docs())
    assert set(docs) <= set(rules)
    assert set(plugins.DIAGNOSTIC_CODES) <= set(rules)
    for code, entry in rules.items():  # every rule, file diagnostics (ARV0xx) included
        assert entry["name"] and entry["shortDescription"]["text"] and entry["fullDescription"]["text"], code
        assert entry["help"]["text"] and entry["helpUri"].startswith("https://"), code
    assert rules["ARV001"]["helpUri"].endswith("#hostile-input-limits-and-the-cache")
    for code, doc in docs.items():
        entry = rules[code]
        assert entry["name"] == doc.name
        assert entry["shortDescription"]["text"] == doc.summary
        assert entry["fullDescription"]["text"].split()[:5] == doc.rationale.split()[:5]
        assert doc.summary in entry["help"]["text"]
        assert entry["helpUri"] == doc.help_uri
        assert entry["defaultConfiguration"]["level"] == {"CRITICAL": "error", "WARNING": "warning", "SUGGESTION": "note"}[doc.severity.value]


def fingerprints(document):
    return [
        (r["ruleId"], r["partialFingerprints"]["asyncreview/v1"]) for r in document["runs"][0]["results"]
    ]


def test_fingerprints_are_unique_and_survive_moved_lines(cli, app):
    _, before = sarif(cli, app.root)
    prints = fingerprints(before)
    assert len({fp for _, fp in prints}) == len(prints), "two sleeps on one line must differ"
    app.write("pkg/app.py", '"""Docstring added above."""\n\n\n' + APP.replace("async def main", "async def other():\n    pass\n\n\nasync def main"))
    _, after = sarif(cli, app.root)
    assert sorted(fingerprints(after)) == sorted(prints)
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after["runs"][0]["results"]}
    assert min(lines) > 6, "the findings really moved"
    app.write("pkg/app.py", APP.replace("time.sleep(1)", "time.sleep(10)"))
    _, edited = sarif(cli, app.root)
    assert len(set(fingerprints(edited)) - set(prints)) == 1, "the edited line alone gets a new fingerprint"


def test_output_file_and_clean_run(cli, app, tmp_path):
    target = tmp_path / "out.sarif"
    result = cli("--format", "sarif", "--output", target, cwd=app.root)
    assert result.code == 1 and result.out == ""
    document = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
    app.write("pkg/app.py", "import asyncio\n\n\nasync def main():\n    await asyncio.sleep(1)\n")
    result, document = sarif(cli, app.root)
    assert result.code == 0 and document["runs"][0]["results"] == []


def test_unreadable_files_become_diagnostic_results(cli, app):
    app.write("pkg/broken.py", "def f(:\n")
    _, document = sarif(cli, app.root)
    broken = [r for r in document["runs"][0]["results"] if r["ruleId"] == "ARV001"]
    assert broken and broken[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/broken.py"


def test_llm_review_goes_into_properties(cli, app):
    fake = FakeAnthropic().start()
    try:
        app.write("pkg/app.py", "import asyncio\n\n\nasync def main():\n    async with asyncio.timeout(3):\n        await asyncio.sleep(0)\n")
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-test"}
        result = cli("--format", "sarif", "--llm", cwd=app.root, env=env)
    finally:
        fake.stop()
    document = json.loads(result.out)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
    (item,) = document["runs"][0]["results"]
    review = item["properties"]["review"]
    assert review["verdict"] == "confirmed" and review["explanation"].startswith("fake review of ARV101")


def test_files_outside_the_working_folder_get_absolute_uris(cli, app):
    (app.root / "elsewhere").mkdir()
    _, document = sarif(cli, app.root / "elsewhere", "../pkg")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]}
    assert uris == {(app.root / "pkg" / "app.py").resolve().as_uri()}
