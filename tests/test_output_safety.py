"""Nothing that came from the repository or the model reaches a terminal or CI unescaped: hostile
file names (not UTF-8, workflow commands, escape sequences), snippets and review texts go through
every reporter, the pull-request review and the job summary, and out of the real console script."""

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

import jsonschema
import pytest

from asyncreview import plugins
from asyncreview.finding import Finding, Severity
from asyncreview.github_review import build_review
from asyncreview.pipeline import RunResult
from asyncreview.reporters import ReportContext, asyncreview_reporters

from fakeapi import FakeAnthropic, default_review

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
FORMATS = ("text", "json", "sarif", "github", "markdown")

# Erase the screen, retitle the terminal, ring the bell, a C1 CSI, a bidi override and isolate,
# DEL and NUL; a carriage return and newlines that would start workflow commands; GitHub's
# legacy command prefix, which its runner reads anywhere in a line.
HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\u2066 \r::error file=x.py::injected\n"
    "::warning::also\r\n  ::notice::indented\n##[stop-commands]tok\x00\x7f"
)
# What `printable` makes of it (written out by hand: the escape format is the contract).
HOSTILE_PRINTABLE = (
    "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil\\u2066 \\x0d::error file=x.py::injected\n"
    "::warning::also\n  ::notice::indented\n#\\x23[stop-commands]tok\\x00\\x7f"
)
# What `one_line` makes of it: white space (the carriage return too) runs to one space first.
HOSTILE_LINE = (
    "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil\\u2066 ::error file=x.py::injected "
    "::warning::also ::notice::indented #\\x23[stop-commands]tok\\x00\\x7f"
)
# A display path as the pipeline carries it (os.fsdecode) -> how every format writes it.
PATHS = {
    "bad\udcff.py": "bad\\xff.py",
    "::error file=a.py,line=1::X.py": "::error file=a.py,line=1::X.py",
    "pkg/\x1b]0;t\x07\u202e.py": "pkg/\\x1b]0;t\\x07\\u202e.py",
    "new\n::error::line.py": "new\\x0a::error::line.py",
}
# Raw bytes no output may hold: C0 but tab and newline, DEL, C1, bidi controls, line separators.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
GITHUB_COMMAND = re.compile(r"::(error|warning|notice) (?P<properties>[^:]*)::(?P<data>.*)")


def assert_safe(output: str, fmt: str) -> None:
    output.encode("utf-8")  # no lone surrogate: a file name's odd byte is escaped, not carried
    raw = CONTROL.search(output)
    assert raw is None, f"{fmt}: raw {raw.group()!r} at {output[max(0, raw.start() - 40):raw.end() + 20]!r}"
    assert "##[" not in output, fmt
    for line in output.split("\n"):
        if line.lstrip().startswith("::"):  # the runner trims leading blanks before it looks
            assert fmt == "github" and GITHUB_COMMAND.fullmatch(line), f"{fmt}: {line!r}"


def github_properties(line: str) -> dict:
    """The properties of one of our commands, unescaped as GitHub's runner does."""
    match = GITHUB_COMMAND.fullmatch(line)
    properties = {}
    for part in match.group("properties").split(","):
        key, _, value = part.partition("=")
        properties[key] = value.replace("%3A", ":").replace("%2C", ",").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
    return properties


def docs():
    table = {}
    for rule in plugins.all_rules():
        table.update(rule.docs())
    return table


def hostile_findings(root: str = "") -> list:
    review = {"verdict": "confirmed", "severity": "CRITICAL", "explanation": HOSTILE, "suggested_fix": HOSTILE}
    return [
        Finding(os.path.join(root, path) if root else path, 3, 5, 4, 2, "ARV201", Severity.CRITICAL, f"`time.sleep()` {HOSTILE}", f"    time.sleep(1)  # {HOSTILE}", review=dict(review))
        for path in PATHS
    ]


def render_all(findings, **options) -> dict:
    result = RunResult(findings=findings, files=list(PATHS), parsed=len(PATHS), notices=[f"notice {HOSTILE}"], threshold=Severity.SUGGESTION)
    context = ReportContext(result=result, docs=docs(), **options)
    return {name: render(context) for name, render in asyncreview_reporters().items()}


@pytest.mark.parametrize("options", [{}, {"statistics": True, "show_refuted": True}])
def test_every_reporter_escapes_hostile_names_snippets_and_reviews(options):
    outputs = render_all(hostile_findings(), **options)
    assert set(outputs) == set(FORMATS)
    for fmt, output in outputs.items():
        assert_safe(output, fmt)

    text = outputs["text"].split("\n")
    for escaped in PATHS.values():  # each file heads its group, one that would be a command as ./
        assert (f"./{escaped}" if escaped.startswith("::") else escaped) in text
    assert sum(f"ARV201  `time.sleep()` {HOSTILE_LINE}" in line for line in text) == len(PATHS)
    assert sum(f"review: confirmed (CRITICAL): {HOSTILE_LINE}" in line for line in text) == len(PATHS)

    document = json.loads(outputs["json"])
    assert [f["path"] for f in document["findings"]] == list(PATHS.values())
    for record in document["findings"]:
        assert record["message"] == f"`time.sleep()` {HOSTILE_PRINTABLE}"
        assert record["snippet"] == f"    time.sleep(1)  # {HOSTILE_PRINTABLE}"
        assert record["review"]["explanation"] == record["review"]["suggested_fix"] == HOSTILE_PRINTABLE
    assert document["summary"]["notices"] == [f"notice {HOSTILE_PRINTABLE}"]

    sarif = json.loads(outputs["sarif"])
    jsonschema.validate(sarif, SCHEMA, cls=jsonschema.Draft7Validator)
    results = sarif["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert [unquote_to_bytes(uri) for uri in uris] == [os.fsencode(path) for path in PATHS]  # the bytes on disk
    assert uris[0] == "bad%FF.py" and uris[1].startswith("%3A%3Aerror")  # a colon first would read as a scheme
    assert all(r["message"]["text"] == f"`time.sleep()` {HOSTILE_PRINTABLE}" for r in results)
    assert all(r["properties"]["review"]["explanation"] == HOSTILE_PRINTABLE for r in results)

    commands = [line for line in outputs["github"].split("\n") if line.startswith("::")]
    assert sorted(github_properties(line)["file"] for line in commands) == sorted(PATHS.values())
    assert all(GITHUB_COMMAND.fullmatch(line).group("data").startswith("`time.sleep()` \\x1b[2J") for line in commands)

    markdown = outputs["markdown"]
    for escaped in PATHS.values():
        assert f"`{escaped}:3:5`" in markdown
    assert "#\\x23[stop-commands]tok" in markdown and "\\x1b]0;pwned\\x07" in markdown


def test_a_refuted_finding_keeps_its_justification_escaped():
    findings = hostile_findings()
    for finding in findings:
        finding.review["verdict"] = "false_positive"
    outputs = render_all(findings)
    assert_safe(outputs["sarif"], "sarif")
    suppressions = [r["suppressions"][0]["justification"] for r in json.loads(outputs["sarif"])["runs"][0]["results"]]
    assert suppressions == [HOSTILE_PRINTABLE] * len(PATHS)


def test_pull_request_review_bodies_are_escaped(tmp_path):
    findings = hostile_findings(str(tmp_path))
    changed = {path: {3, 4} for path in PATHS if "\udcff" not in path}  # GitHub's API names are Unicode
    review = build_review(findings, docs(), changed, tmp_path, "abc123", set())
    assert review is not None
    assert [c["path"] for c in review["comments"]] == list(changed)  # anchored where GitHub said
    for part in [review["body"], *(c["body"] for c in review["comments"])]:
        assert_safe(part, "review")
        assert part.count("<!--") == part.count("-->") <= 1  # only our fingerprint marker
    for comment in review["comments"]:
        assert "\\x1b]0;pwned\\x07" in comment["body"] and "Suggested fix: " in comment["body"]
    json.dumps(review).encode("ascii")  # the request body encodes


# ---------------------------------------------------------------------------------------------
# End to end: the console script on files with hostile names and a real ARV201 each

SLEEPER = "import time\n\n\nasync def f():\n    time.sleep(1)\n"
ON_DISK = {
    b"bad\xff.py": (SLEEPER.encode(), "bad\\xff.py"),
    b"::error file=a.py,line=1::X.py": (SLEEPER.encode(), "::error file=a.py,line=1::X.py"),
    "\x1b]0;t\x07\u202e.py".encode(): (
        (SLEEPER.rstrip("\n") + "  # \x1b]0;pwned\x07 \u202e \x9b ##[stop-commands]tok\n").encode(),
        "\\x1b]0;t\\x07\\u202e.py",
    ),
}


@pytest.fixture
def hostile_project(project):
    if sys.platform != "linux":
        pytest.skip("file names that are not UTF-8 need a Linux file system")
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    for name, (data, _escaped) in ON_DISK.items():
        with open(os.path.join(os.fsencode(project.root), name), "wb") as handle:  # the name's bytes as given
            handle.write(data)
    return project


def check_report(fmt: str, output: str) -> None:
    assert_safe(output, fmt)
    escaped = [shown for _data, shown in ON_DISK.values()]
    if fmt == "text":
        lines = output.split("\n")
        assert all((f"./{name}" if name.startswith("::") else name) in lines for name in escaped)
        assert "#\\x23[stop-commands]tok" in output and "Found 3 findings (3 critical) in 3 files" in output
    elif fmt == "json":
        findings = json.loads(output)["findings"]
        assert sorted(f["path"] for f in findings if f["code"] == "ARV201") == sorted(escaped)
    elif fmt == "sarif":
        document = json.loads(output)
        jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]]
        assert sorted(unquote_to_bytes(uri) for uri in uris) == sorted(ON_DISK)
    elif fmt == "github":
        commands = [line for line in output.split("\n") if line.startswith("::")]
        assert sorted(github_properties(line)["file"] for line in commands) == sorted(escaped)
    else:
        assert all(f"`{name}:5:5`" in output for name in escaped)


def test_cli_reports_hostile_file_names_in_every_format(cli, hostile_project, tmp_path):
    reports = {}
    for fmt in FORMATS:
        for flags in ([], ["--no-cache"]):  # the first cached run writes the cache, the rest read it
            summary = tmp_path / f"summary-{fmt}-{bool(flags)}.md"  # what the Action appends to the job summary
            run = cli("--format", fmt, "--report", f"markdown={summary}", *flags, ".", cwd=hostile_project.root)
            assert run.code == 1, run.err[-2000:]
            assert "Traceback" not in run.err
            check_report(fmt, run.out)
            check_report("markdown", summary.read_text(encoding="utf-8"))
            shown = json.dumps(json.loads(run.out)["findings"]) if fmt == "json" else run.out  # no cache counts
            reports.setdefault(fmt, set()).add(shown)
    assert all(len(outputs) == 1 for outputs in reports.values())  # the cache changes nothing shown


def test_llm_review_text_is_escaped_in_every_format(cli, hostile_project):
    fake = FakeAnthropic().start()
    try:
        def hostile(body):
            reviews = default_review(body)["reviews"]
            return {"reviews": [dict(review, verdict="uncertain", severity="CRITICAL", explanation=HOSTILE) for review in reviews]}

        fake.responder = hostile
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-test-key"}
        for fmt in FORMATS:
            run = cli("--llm", "--format", fmt, ".", cwd=hostile_project.root, env=env)
            assert run.code == 1, run.err[-2000:]
            assert_safe(run.err, "stderr")
            check_report(fmt, run.out)
            assert ("\\x1b]0;pwned\\x07" if fmt not in ("json", "sarif") else "\\\\x1b]0;pwned\\\\x07") in run.out
        assert fake.bodies  # the model was asked, about every file
    finally:
        fake.stop()


def test_diff_base_keeps_findings_in_changed_files_with_hostile_names(cli, hostile_project):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=hostile_project.root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "pyproject.toml")
    git("commit", "-qm", "base")
    git("add", ".")
    git("commit", "-qm", "the files with odd names")  # changed since main~1: every line of them
    run = cli("--diff-base", "HEAD~1", "--format", "json", ".", cwd=hostile_project.root)
    assert run.code == 1, run.err[-2000:]
    assert sorted(f["path"] for f in run.json()["findings"]) == sorted(shown for _data, shown in ON_DISK.values())


def test_text_caret_stays_under_the_code_after_escapes():
    snippet = 'x = "\x1b\u202e";\ttime.sleep(1)'
    column = snippet.index("time") + 1
    finding = Finding("a.py", 1, column, 1, column + len("time.sleep(1)"), "ARV201", Severity.CRITICAL, "m", snippet)
    output = render_all([finding])["text"]
    assert_safe(output, "text")
    lines = output.split("\n")
    code = next(line for line in lines if line.startswith("    1 | "))
    caret = lines[lines.index(code) + 1]
    assert code == '    1 | x = "\\x1b\\u202e";   time.sleep(1)'  # the tab expanded to the next stop of 4, as shown
    assert caret.index("^") == code.index("time") and caret.count("^") == len("time.sleep(1)")


def test_usage_errors_and_notices_on_stderr_are_escaped(cli, project):
    project.write("app.py", SLEEPER)
    missing = cli("--baseline", "\x1b]0;pwned\x07\n::error::x.json", ".", cwd=project.root)
    assert missing.code == 2 and "cannot read baseline \\x1b]0;pwned\\x07 ::error::x.json" in missing.err
    assert_safe(missing.err, "stderr")
    written = cli("--write-baseline", "\x1b[2J.json", ".", cwd=project.root)
    assert written.code == 0 and "to baseline \\x1b[2J.json" in written.err
    assert_safe(written.err, "stderr")
