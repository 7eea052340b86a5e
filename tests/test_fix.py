"""`--fix`, `--unsafe-fixes`, `--diff`, `--fix-only` through the real console script: fixes to a
fixed point, files kept as they were in all but the fix (encoding, BOM, line endings,
permissions), nothing written that does not parse, and the fix in every report."""

import json
import os
import stat
from pathlib import Path

import jsonschema

from conftest import install_plugin_pack

from asyncreview import github_review
from asyncreview.finding import Edit, Finding, Fix, Severity

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

APP = """\
import time

import requests


async def poll(url):
    time.sleep(1)
    response = requests.get(url, timeout=5)
    return response
"""
SAFE_FIXED = """\
import asyncio
import time

import requests


async def poll(url):
    await asyncio.sleep(1)
    response = requests.get(url, timeout=5)
    return response
"""
ALL_FIXED = SAFE_FIXED.replace("requests.get(url, timeout=5)", "await asyncio.to_thread(requests.get, url, timeout=5)")

PACK = """
import libcst as cst

from asyncreview.finding import Severity
from asyncreview.fixes import Rewrite
from asyncreview.plugins import hookimpl
from asyncreview.rule import Rule


class Fixers(Rule):
    codes = ("XFX001", "XFX002")
    family = "fixers"

    @classmethod
    def docs(cls):
        return {}

    def visit_Call(self, node):
        if isinstance(node.func, cst.Name) and node.func.value == "breakme":
            # A fix whose result does not parse: it must be dropped, never written.
            self.report(node, "breaks", code="XFX001", severity=Severity.WARNING, fix=Rewrite.safe((node, "(")))
        if isinstance(node.func, cst.Name) and node.func.value == "wrap":
            # `wrap(wrap(1))`: the inner fix overlaps the outer one and waits for the next pass.
            new = node.with_changes(func=cst.Name("wrapped"))
            self.report(node, "wrap", code="XFX002", severity=Severity.WARNING, fix=Rewrite.safe((node, new)))


class Pack:
    @hookimpl
    def asyncreview_rules(self):
        return [Fixers]


pack = Pack()
"""


def _pack(tmp_path):
    return install_plugin_pack(tmp_path, "fix_pack", PACK, "[asyncreview]\nfixers = fix_pack:pack\n")


def _app(project, name="app.py", text=APP):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    return project.write(name, text)


def test_fix_applies_safe_fixes_reports_what_remains_and_is_idempotent(cli, project):
    path = _app(project)
    first = cli("--fix", ".", cwd=project.root)
    assert first.code == 1, first.err  # a finding remains
    assert path.read_text() == SAFE_FIXED
    assert "1 fixed, 1 remaining (1 fixable with --unsafe-fixes)." in first.out
    assert "9:16" in first.out and "requests.get" in first.out and "time.sleep" not in first.out
    again = cli("--fix", ".", cwd=project.root)
    assert again.code == 1 and path.read_text() == SAFE_FIXED
    assert "0 fixed, 1 remaining (1 fixable with --unsafe-fixes)." in again.out


def test_unsafe_fixes_apply_the_worker_thread_fix_too(cli, project):
    path = _app(project)
    result = cli("--fix", "--unsafe-fixes", ".", cwd=project.root)
    assert result.code == 0, result.out + result.err
    assert path.read_text() == ALL_FIXED
    assert "2 fixed, 0 remaining." in result.out


def test_diff_prints_the_fix_and_changes_nothing(cli, project):
    path = _app(project)
    result = cli("--diff", ".", cwd=project.root)
    assert result.code == 1, result.err
    assert path.read_text() == APP
    assert result.out.startswith("--- a/app.py\n+++ b/app.py\n")
    assert "+import asyncio\n" in result.out and "-    time.sleep(1)\n" in result.out and "+    await asyncio.sleep(1)\n" in result.out
    assert "to_thread" not in result.out
    assert "would fix 1 finding" in result.err
    path.write_text(SAFE_FIXED)
    clean = cli("--diff", ".", cwd=project.root)
    assert clean.code == 0 and clean.out == ""


def test_fix_only_writes_and_exits_0_with_findings_left(cli, project):
    path = _app(project)
    result = cli("--fix-only", ".", cwd=project.root)
    assert result.code == 0, result.err
    assert path.read_text() == SAFE_FIXED and result.out == ""
    assert "fixed 1 finding" in result.err


def test_crlf_bom_permissions_kept_and_written_atomically(cli, project):
    crlf = APP.replace("\n", "\r\n").encode("utf-8")
    path = _app(project, "app.py", b"\xef\xbb\xbf" + crlf)
    os.chmod(path, 0o751)
    result = cli("--fix", ".", cwd=project.root)
    assert result.code == 1, result.err
    assert path.read_bytes() == b"\xef\xbb\xbf" + SAFE_FIXED.replace("\n", "\r\n").encode("utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert sorted(p.name for p in project.root.iterdir()) == ["app.py", "pyproject.toml"]  # no temporary file left


def test_a_latin_1_coding_cookie_is_kept(cli, project):
    text = "# -*- coding: latin-1 -*-\n" + APP.replace("return response", "return response, 'café'")
    path = _app(project, "app.py", text.encode("latin-1"))
    result = cli("--fix", ".", cwd=project.root)
    assert result.code == 1, result.err
    fixed = "# -*- coding: latin-1 -*-\n" + SAFE_FIXED.replace("return response", "return response, 'café'")
    assert path.read_bytes() == fixed.encode("latin-1")


def test_a_fix_that_breaks_the_parse_is_dropped_with_one_diagnostic(cli, project, tmp_path):
    path = _app(project, "app.py", APP + "\n\ndef g():\n    breakme()\n")
    env = _pack(tmp_path)
    result = cli("--fix", "--extend-select", "XFX", "--format", "json", ".", cwd=project.root, env=env)
    assert result.code == 2, result.err
    assert path.read_text() == SAFE_FIXED + "\n\ndef g():\n    breakme()\n"  # the other fix is written
    errors = [line for line in result.err.splitlines() if "internal error" in line]
    assert errors == ["asyncreview: app.py: internal error in the fix of XFX001: the fixed file would not parse, so the fix was not applied"]
    codes = sorted((f["code"], f["line"]) for f in result.json()["findings"])
    assert codes == [("ARV003", 14), ("ARV201", 9), ("XFX001", 14)]


def test_overlapping_fixes_wait_for_the_next_pass(cli, project, tmp_path):
    path = _app(project, "app.py", "x = wrap(wrap(1)) + wrap(2)\n")
    env = _pack(tmp_path)
    result = cli("--fix", "--extend-select", "XFX", ".", cwd=project.root, env=env)
    assert result.code == 0, result.out + result.err
    assert path.read_text() == "x = wrapped(wrapped(1)) + wrapped(2)\n"
    assert "3 fixed, 0 remaining." in result.out


def test_a_fixed_file_is_not_reported_from_a_stale_cache_entry(cli, project):
    path = _app(project)
    before = cli("--format", "json", ".", cwd=project.root)
    assert [f["line"] for f in before.json()["findings"]] == [7, 8]
    cli("--fix", ".", cwd=project.root)
    after = cli("--format", "json", ".", cwd=project.root)
    assert [f["line"] for f in after.json()["findings"]] == [9]
    assert path.read_text() == SAFE_FIXED


def test_json_carries_the_fix_and_the_cache_keeps_it(cli, project):
    _app(project)
    cold = cli("--format", "json", ".", cwd=project.root).json()
    warm = cli("--format", "json", ".", cwd=project.root).json()
    assert warm["summary"]["cached"] == 1 and cold["findings"] == warm["findings"]
    sleep, get = cold["findings"]
    assert sleep["fix"] == {"applicability": "safe", "edits": [
        {"line": 1, "column": 1, "end_line": 1, "end_column": 1, "content": "import asyncio\n"},
        {"line": 7, "column": 5, "end_line": 7, "end_column": 18, "content": "await asyncio.sleep(1)"},
    ]}
    assert "fix" not in get  # a worker thread only where the file imports its loop's library
    finding = Finding.from_dict(sleep)
    assert finding.fix.edits[1] == Edit(7, 5, 7, 18, "await asyncio.sleep(1)") and finding.to_dict() == sleep


def test_sarif_fixes_are_valid(cli, project):
    _app(project)
    result = cli("--format", "sarif", ".", cwd=project.root)
    document = json.loads(result.out)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
    sleep = next(r for r in document["runs"][0]["results"] if r["locations"][0]["physicalLocation"]["region"]["startLine"] == 7)
    change = sleep["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"] == "app.py"
    assert change["replacements"][1] == {
        "deletedRegion": {"startLine": 7, "startColumn": 5, "endLine": 7, "endColumn": 18},
        "insertedContent": {"text": "await asyncio.sleep(1)"},
    }
    assert sleep["fixes"][0]["properties"]["applicability"] == "safe"


def test_text_marks_fixable_findings_and_markdown_shows_the_diff(cli, project):
    _app(project)
    text = cli(".", cwd=project.root).out
    assert "ARV201 [*]  `time.sleep()`" in text and "ARV201  `requests.get()`" in text
    assert "[*] 1 fixable with --fix." in text
    markdown = cli("--format", "markdown", ".", cwd=project.root).out
    assert "```diff\n@@ line 1 @@\n+import asyncio\n@@ line 7 @@\n-    time.sleep(1)\n+    await asyncio.sleep(1)\n```" in markdown
    _app(project, "app.py", SAFE_FIXED)  # imports asyncio: the worker-thread fix is offered
    text = cli(".", cwd=project.root).out
    assert "ARV201  `requests.get()`" in text and "No fixes available without --unsafe-fixes (1 with it)." in text
    assert "ARV201 [*]  `requests.get()`" in cli("--unsafe-fixes", ".", cwd=project.root).out
    markdown = cli("--format", "markdown", ".", cwd=project.root).out
    assert "Unsafe fix (`--unsafe-fixes`):\n```diff\n@@ line 9 @@\n-    response = requests.get(url, timeout=5)\n" in markdown


def _finding(fix, line=7, end_line=7, snippet="    loop = asyncio.get_event_loop()"):
    return Finding("app.py", line, 12, end_line, 36, "ARV504", Severity.WARNING, "use get_running_loop", snippet, fix=fix)


def test_pull_request_comment_suggests_a_fix_on_the_finding_line_only():
    within = Fix("safe", [Edit(7, 20, 7, 34, "get_running_loop")])
    body = github_review._comment(_finding(within), {}, "f" * 16)
    assert "```suggestion\n    loop = asyncio.get_running_loop()\n```" in body
    elsewhere = Fix("safe", [Edit(1, 1, 1, 1, "import asyncio\n"), Edit(7, 20, 7, 34, "get_running_loop")])
    assert "suggestion" not in github_review._comment(_finding(elsewhere), {}, "f" * 16)
    assert "suggestion" not in github_review._comment(_finding(None), {}, "f" * 16)


def test_fix_refuses_diff_base_and_baseline(cli, project):
    _app(project)
    result = cli("--fix", "--diff-base", "HEAD", ".", cwd=project.root)
    assert result.code == 2 and "cannot be combined" in result.err


def test_a_suppressed_finding_is_not_fixed(cli, project):
    text = APP.replace("time.sleep(1)", "time.sleep(1)  # noqa: ARV201")
    path = _app(project, "app.py", text)
    result = cli("--fix", ".", cwd=project.root)
    assert result.code == 1 and path.read_text() == text
    assert "0 fixed, 1 remaining." in result.out


def test_with_fix_the_llm_reviews_only_what_remains(cli, project):
    """The fixed finding is gone before the LLM stage: only the remaining one costs a request."""
    from fakeapi import FakeAnthropic

    path = _app(project)
    fake = FakeAnthropic().start()
    try:
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-api03-TESTKEY-fix"}
        result = cli("--fix", "--llm", "--format", "json", ".", cwd=project.root, env=env)
        assert result.code == 1, result.err
        assert fake.message_requests == 1
        assert [(f["line"], "review" in f) for f in result.json()["findings"]] == [(9, True)]
        assert path.read_text() == SAFE_FIXED
    finally:
        fake.stop()


def test_a_value_moved_to_a_worker_thread_keeps_its_type(cli, project):
    """Found by benchmarks.fix_corpus: after `root = await anyio.to_thread.run_sync(Path(p).resolve)`
    the later `root.glob()` was no longer reported (the fix had hidden a blocking call)."""
    text = (
        "import anyio\nfrom pathlib import Path\n\n\n"
        "async def find(workdir, pattern):\n"
        "    root = Path(workdir).resolve()\n"
        "    return list(root.glob(pattern))\n"
    )
    path = _app(project, "app.py", text)
    result = cli("--fix", "--unsafe-fixes", "--format", "json", ".", cwd=project.root)
    assert "root = await anyio.to_thread.run_sync(Path(workdir).resolve)\n" in path.read_text()
    remaining = [(f["code"], f["line"], f["message"].split("`")[1]) for f in result.json()["findings"]]
    assert remaining == [("ARV201", 7, "pathlib.Path.glob()")], remaining
