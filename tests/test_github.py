"""`--format github` workflow commands and `--pr-review` against a fake GitHub REST API on
127.0.0.1 (GITHUB_API_URL, as Actions sets it)."""

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from asyncreview.reporters.github import escape_data, escape_property

APP = """\
import asyncio
import time


async def main():
    async with asyncio.timeout(3):
        f = open("data.txt")
    time.sleep(1)
"""

COMMAND = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def unescape(text):
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse(line):
    match = COMMAND.match(line)
    assert match, line
    props = dict(part.split("=", 1) for part in match.group("props").split(","))
    return match.group(1), {k: unescape(v) for k, v in props.items()}, unescape(match.group("message"))


@pytest.fixture
def app(project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("src/app.py", APP)
    return project


def test_one_command_per_finding_most_severe_first(cli, app):
    result = cli("--format", "github", cwd=app.root)
    assert result.code == 1
    findings = cli("--format", "json", cwd=app.root).json()["findings"]
    lines = result.out.splitlines()
    commands = [parse(line) for line in lines if line.startswith("::")]
    assert len(commands) == len(findings) >= 3
    ranks = {"error": 3, "warning": 2, "notice": 1}
    kinds = [kind for kind, _, _ in commands]
    assert [ranks[k] for k in kinds] == sorted((ranks[k] for k in kinds), reverse=True)
    assert "error" in kinds and "warning" in kinds
    expected = {"CRITICAL": "error", "WARNING": "warning", "SUGGESTION": "notice"}
    for (kind, props, message), finding in zip(commands, findings):
        assert kind == expected[finding["severity"]]
        assert props["file"] == "src/app.py"
        assert int(props["line"]) == finding["line"] and int(props["endLine"]) == finding["end_line"]
        assert int(props["col"]) == finding["column"]
        assert props["title"].startswith(finding["code"] + " ")
        assert message == finding["message"]
    assert lines[-1].startswith("asyncreview: ") and "finding" in lines[-1]


def test_escaping_is_lossless_and_never_breaks_the_command():
    nasty = "50% of a:b, c\r\nnext line::x"
    assert "\n" not in escape_data(nasty) and "\r" not in escape_data(nasty)
    assert unescape(escape_data(nasty)) == nasty
    prop = escape_property(nasty)
    assert ":" not in prop and "," not in prop and unescape(prop) == nasty


def test_paths_with_commas_and_colons_survive(cli, project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("odd,name:1.py", APP)
    result = cli("--format", "github", cwd=project.root)
    commands = [parse(line) for line in result.out.splitlines() if line.startswith("::")]
    assert commands and all(props["file"] == "odd,name:1.py" for _, props, _ in commands)


def shown_by_github(lines):
    """What the Checks UI displays: the first 10 annotations of each kind a step prints."""
    seen = {"error": 0, "warning": 0, "notice": 0}
    shown = []
    for line in lines:
        if line.startswith("::"):
            kind, props, message = parse(line)
            seen[kind] += 1
            if seen[kind] <= 10:
                shown.append((kind, props, message))
    return shown


def test_past_the_cap_the_most_severe_are_shown_and_a_notice_counts_the_rest():
    from asyncreview.finding import Finding, Severity
    from asyncreview.pipeline import RunResult
    from asyncreview.reporters import ReportContext
    from asyncreview.reporters.github import render

    def finding(n, severity):
        return Finding(f"m{n:02}.py", n, 1, n, 5, "ARV201", severity, f"finding {n}")

    # Printed order must not depend on input order: suggestions and warnings come first here.
    findings = [finding(n, Severity.SUGGESTION) for n in range(1, 16)]
    findings += [finding(n, Severity.WARNING) for n in range(16, 19)]
    findings += [finding(n, Severity.CRITICAL) for n in range(19, 31)]
    result = RunResult(findings=findings, files=["x"], parsed=1, notices=[], threshold=Severity.SUGGESTION)
    lines = render(ReportContext(result=result)).splitlines()
    assert len([line for line in lines if line.startswith("::")]) == 30 + 1
    shown = shown_by_github(lines)
    assert [k for k, _, _ in shown] == ["error"] * 10 + ["warning"] * 3 + ["notice"] * 10
    assert [m for k, _, m in shown if k == "error"] == [f"finding {n}" for n in range(19, 29)]
    overflow = [m for k, p, m in shown if k == "notice" and p["title"] == "asyncreview: more findings"]
    assert overflow == [
        "GitHub shows 10 annotations of each kind per step: 2 more errors and 5 more notices are not annotated. "
        "This step's log, the job summary and the SARIF report have every finding."
    ]
    few = RunResult(findings=findings[:10] + findings[15:28], files=["x"], parsed=1, notices=[], threshold=Severity.SUGGESTION)
    assert "more findings" not in render(ReportContext(result=few)), "no notice at or under the cap"


def test_clean_run_prints_only_the_summary(cli, app):
    app.write("src/app.py", "import asyncio\n\n\nasync def main():\n    await asyncio.sleep(1)\n")
    result = cli("--format", "github", cwd=app.root)
    assert result.code == 0 and not any(line.startswith("::") for line in result.out.splitlines())


# ---------------------------------------------------------------------------------------------
# --pr-review against a fake GitHub


class FakeGitHub:
    def __init__(self, files, existing_comments=(), fail_reviews=None):
        self.files = files
        self.existing = list(existing_comments)
        self.fail_reviews = fail_reviews
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append(("GET", self.path, self.headers.get("Authorization"), None))
                base = self.path.split("?")[0]
                page = 2 if "page=2" in self.path else 1
                if base == "/repos/octo/shop/pulls/7/files":
                    # Two pages, linked as GitHub does, to prove pagination is followed.
                    if page == 1:
                        link = f'<http://127.0.0.1:{fake.port}/repos/octo/shop/pulls/7/files?per_page=100&page=2>; rel="next"'
                        return self._send(200, fake.files[:1], {"Link": link})
                    return self._send(200, fake.files[1:])
                if base == "/repos/octo/shop/pulls/7/comments":
                    return self._send(200, fake.existing)
                self._send(404, {"message": "Not Found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(("POST", self.path, self.headers.get("Authorization"), body))
                if fake.fail_reviews:
                    return self._send(fake.fail_reviews, {"message": "Resource not accessible by integration"})
                self._send(200, {"id": 1, "html_url": "https://github.test/octo/shop/pull/7#review-1"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reviews(self):
        return [r[3] for r in self.requests if r[0] == "POST"]


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def patch_adding(lines):
    """A PR patch that adds the given (1-based) lines of APP, the rest being context."""
    text = APP.splitlines()
    body = [("+" if n in lines else " ") + line for n, line in enumerate(text, start=1)]
    return f"@@ -1,{len(text) - len(lines)} +1,{len(text)} @@\n" + "\n".join(body)


@pytest.fixture
def pr_env(app, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": "abc123"}}}))

    def make(fake, **extra):
        env = {
            "GITHUB_API_URL": fake.url,
            "GITHUB_REPOSITORY": "octo/shop",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_TOKEN": "ghs_faketoken",
            "GITHUB_WORKSPACE": str(app.root),
        }
        env.update(extra)
        return env

    return make


def test_pr_review_posts_one_review_on_changed_lines_only(cli, app, pr_env):
    # The PR adds lines 6-7 (timeout + open) but not line 8 (time.sleep) of src/app.py.
    files = [{"filename": "README.md", "patch": "@@ -0,0 +1 @@\n+hi"}, {"filename": "src/app.py", "patch": patch_adding({6, 7})}]
    fake = FakeGitHub(files)
    try:
        result = cli("--format", "github", "--pr-review", cwd=app.root, env=pr_env(fake))
    finally:
        fake.stop()
    assert result.code == 1
    (review,) = fake.reviews()
    assert review["commit_id"] == "abc123" and review["event"] == "COMMENT"
    lines = sorted(c["line"] for c in review["comments"])
    findings = cli("--format", "json", cwd=app.root).json()["findings"]
    assert lines == sorted(f["line"] for f in findings if f["line"] in (6, 7))
    assert 8 in [f["line"] for f in findings], "the unchanged line has a finding that must not be posted"
    assert all(c["path"] == "src/app.py" and c["side"] == "RIGHT" for c in review["comments"])
    assert any("ARV101" in c["body"] for c in review["comments"])
    assert all(r[2] == "Bearer ghs_faketoken" for r in fake.requests)
    assert any("page=2" in r[1] for r in fake.requests), "pagination followed"
    assert "posted a review with" in result.err


def test_pr_review_does_not_repeat_comments_already_posted(cli, app, pr_env):
    files = [{"filename": "src/app.py", "patch": patch_adding({6, 7, 8})}]
    first = FakeGitHub(files)
    try:
        cli("--pr-review", cwd=app.root, env=pr_env(first))
    finally:
        first.stop()
    (posted,) = first.reviews()
    assert len(posted["comments"]) >= 3
    again = FakeGitHub(files, existing_comments=[{"body": c["body"]} for c in posted["comments"]])
    try:
        result = cli("--pr-review", cwd=app.root, env=pr_env(again))
    finally:
        again.stop()
    assert again.reviews() == [] and "no new findings on changed lines" in result.err


def test_pr_review_failures_are_one_line_and_keep_the_report(cli, app, pr_env):
    files = [{"filename": "src/app.py", "patch": patch_adding({6})}]
    fake = FakeGitHub(files, fail_reviews=403)
    try:
        result = cli("--format", "json", "--pr-review", cwd=app.root, env=pr_env(fake))
    finally:
        fake.stop()
    assert result.code == 1 and result.json()["findings"]
    assert "HTTP 403" in result.err and "Traceback" not in result.err
    no_token = cli("--pr-review", cwd=app.root, env={"GITHUB_TOKEN": ""})
    assert no_token.code == 1 and "GITHUB_TOKEN is not set" in no_token.err and "Traceback" not in no_token.err
    down = cli("--pr-review", cwd=app.root, env=pr_env(fake))  # the server is gone
    assert "--pr-review" in down.err and "Traceback" not in down.err and down.code == 1


def test_pr_review_comments_neutralize_mentions_and_html_comments(tmp_path):
    """The model's answer and the reviewed code are untrusted: a review must not ping people or
    carry a forged `<!-- asyncreview:... -->` marker that would silence later comments."""
    from asyncreview.finding import Finding, Severity
    from asyncreview.github_review import _MARKER_RE, build_review

    forged = "<!-- asyncreview:" + "0" * 32 + " -->"
    review = {"verdict": "confirmed", "severity": "CRITICAL", "explanation": f"ask @octocat {forged}", "suggested_fix": "cc @org/team"}
    finding = Finding(str(tmp_path / "app.py"), 3, 1, 3, 5, "ARV201", Severity.CRITICAL, "open('@admin')", review=review)
    built = build_review([finding], {}, {"app.py": {3}}, tmp_path, "abc", set())
    (comment,) = built["comments"]
    body = comment["body"]
    assert re.findall(r"@\w", body) == [] and "octocat" in body and "org/team" in body and "admin" in body
    assert len(_MARKER_RE.findall(body)) == 1 and "0" * 32 not in _MARKER_RE.findall(body)
