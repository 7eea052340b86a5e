"""`--diff-base REF` against real git repositories, and baselines that hide known findings by a
fingerprint that survives moved lines."""

import json
import subprocess

import pytest

from asyncreview.diffmode import parse_diff

OLD = """\
import time


async def legacy():
    time.sleep(1)
"""


def git(cwd, *args):
    completed = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture
def repo(project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("legacy.py", OLD)
    project.write("untouched.py", OLD.replace("legacy", "untouched"))
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", ".")
    git(project.root, "commit", "-qm", "legacy code")
    return project


def lines_of(result):
    return sorted((f["path"], f["line"]) for f in result.json()["findings"])


def test_only_lines_changed_since_the_base_are_reported(cli, repo):
    assert len(cli("--format", "json", cwd=repo.root).json()["findings"]) == 2
    clean = cli("--format", "json", "--diff-base", "main", cwd=repo.root)
    assert clean.code == 0 and clean.json()["findings"] == []
    assert "2 findings on unchanged lines not shown" in clean.err
    git(repo.root, "checkout", "-qb", "feature")
    repo.write("legacy.py", OLD + "\n\nasync def new():\n    time.sleep(2)\n")
    git(repo.root, "commit", "-qam", "new code")
    repo.write("fresh.py", OLD.replace("legacy", "fresh"))  # untracked: every line is new
    result = cli("--format", "json", "--diff-base", "main", cwd=repo.root)
    assert result.code == 1
    assert lines_of(result) == [("fresh.py", 5), ("legacy.py", 9)]


def test_the_fork_point_is_the_base_not_the_moving_tip(cli, repo):
    git(repo.root, "checkout", "-qb", "feature")
    repo.write("mine.py", OLD.replace("legacy", "mine"))
    git(repo.root, "add", "mine.py")
    git(repo.root, "commit", "-qm", "mine")
    git(repo.root, "checkout", "-q", "main")
    repo.write("theirs.py", OLD.replace("legacy", "theirs"))  # main moves on after the fork
    git(repo.root, "add", "theirs.py")
    git(repo.root, "commit", "-qm", "theirs")
    git(repo.root, "checkout", "-q", "feature")
    result = cli("--format", "json", "--diff-base", "main", cwd=repo.root)
    assert lines_of(result) == [("mine.py", 5)]


def test_runs_from_a_subfolder_and_with_a_bad_ref(cli, repo):
    repo.write("sub/deep.py", OLD)
    result = cli("--format", "json", "--diff-base", "HEAD", ".", cwd=repo.root / "sub")
    assert lines_of(result) == [("deep.py", 5)]
    bad = cli("--diff-base", "no-such-branch", cwd=repo.root)
    assert bad.code == 2 and "no-such-branch" in bad.err and "Traceback" not in bad.err
    option = cli("--diff-base", "--output=x", cwd=repo.root)
    assert option.code == 2


def test_outside_a_repository_is_a_usage_error(cli, project):
    project.write("a.py", OLD)
    result = cli("--diff-base", "HEAD", cwd=project.root)
    assert result.code == 2 and "git" in result.err and "Traceback" not in result.err


def test_parse_diff_handles_hunks_deletions_and_quoted_names():
    text = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,0 +2,3 @@\n+a\n+b\n+c\n@@ -9 +12 @@\n-old\n+new\n"
        "@@ -20,2 +22,0 @@\n-gone\n-gone\n"
        'diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"\n--- /dev/null\n+++ "b/caf\\303\\251.py"\n@@ -0,0 +1 @@\n+x\n'
        "diff --git a/dead.py b/dead.py\n--- a/dead.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    assert parse_diff(text) == {"x.py": {2, 3, 4, 12}, "café.py": {1}}


# ---------------------------------------------------------------------------------------------


def test_baseline_hides_known_findings_and_reports_new_ones(cli, repo, tmp_path):
    baseline = repo.root / "asyncreview-baseline.json"
    written = cli("--write-baseline", baseline, cwd=repo.root)
    assert written.code == 0 and "wrote 2 findings" in written.err
    document = json.loads(baseline.read_text())
    assert {e["path"] for e in document["findings"]} == {"legacy.py", "untouched.py"}
    clean = cli("--format", "json", "--baseline", baseline, cwd=repo.root)
    assert clean.code == 0 and clean.json()["findings"] == [] and "2 known findings not shown" in clean.err
    # Code moves down, a new blocking call arrives next to an old identical one.
    repo.write("legacy.py", "# header\n# more\n" + OLD + "    time.sleep(1)\n")
    result = cli("--format", "json", "--baseline", baseline, cwd=repo.root)
    assert result.code == 1 and lines_of(result) == [("legacy.py", 8)]
    # The same baseline works from another folder: paths are relative to the baseline file.
    elsewhere = cli("--format", "json", "--baseline", baseline, repo.root / "legacy.py", cwd=tmp_path)
    assert [f["line"] for f in elsewhere.json()["findings"]] == [8]


@pytest.mark.parametrize(
    "content, message",
    [("not json", "not valid JSON"), ('{"findings": []}', "not an asyncreview baseline"), ('{"asyncreview-baseline": 1, "findings": [1]}', "fingerprint")],
)
def test_bad_baselines_are_usage_errors(cli, repo, content, message):
    path = repo.root / "b.json"
    path.write_text(content)
    result = cli("--baseline", path, cwd=repo.root)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err
    missing = cli("--baseline", repo.root / "missing.json", cwd=repo.root)
    assert missing.code == 2 and "cannot read baseline" in missing.err
