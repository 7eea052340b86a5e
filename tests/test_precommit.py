"""pre-commit for real: a temporary git repository whose .pre-commit-config.yaml points at a
committed snapshot of this checkout; pre-commit builds the hook environment from it (pip, from
the package index) and runs the hooks from .pre-commit-hooks.yaml."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO

BAD = """\
import time


async def handler():
    time.sleep(1)
"""
FIXED = BAD.replace("import time", "import asyncio").replace("time.sleep(1)", "await asyncio.sleep(1)")


def git(cwd, *args):
    completed = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false", *args],
        cwd=cwd, capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory):
    """This checkout's current files, committed: what a user's `repo:` + `rev:` points at."""
    target = tmp_path_factory.mktemp("hooks") / "asyncreview"
    ignore = shutil.ignore_patterns(".git", ".pytest_cache", ".ruff_cache", "__pycache__", "*.egg-info", "build", "dist", ".venv", ".ci-venv", "out")
    shutil.copytree(REPO, target, ignore=ignore)
    git(target, "init", "-q")
    git(target, "add", ".")
    git(target, "commit", "-qm", "snapshot")
    return target, git(target, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def user_repo(project, hooks_repo, pre_commit_home, tmp_path):
    path, rev = hooks_repo

    def setup(hook_ids):
        config = {"repos": [{"repo": str(path), "rev": rev, "hooks": [{"id": h} for h in hook_ids]}]}
        project.write(".pre-commit-config.yaml", yaml.safe_dump(config))
        project.write("pyproject.toml", '[project]\nname = "user"\nrequires-python = ">=3.9"\n')
        project.write("svc/handler.py", BAD)
        project.write("notes.txt", "async def f():\n    time.sleep(1)\n")  # not Python: never passed
        git(project.root, "init", "-q")
        git(project.root, "add", ".")
        return project

    def run(*args):
        env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
        env.update(PRE_COMMIT_HOME=str(pre_commit_home), ASYNCREVIEW_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never", *args],
            cwd=project.root, capture_output=True, text=True, env=env, timeout=900,
        )

    return setup, run


def test_hook_definitions_follow_ruff():
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"asyncreview", "asyncreview-llm", "asyncreview-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["types_or"] == ["python", "pyi"] and hook["require_serial"] is True
        assert hook["entry"].split()[:2] == ["asyncreview", "--force-exclude"]
    assert "--llm" in hooks["asyncreview-llm"]["entry"].split() and "--llm" not in hooks["asyncreview"]["entry"].split()
    assert "--fix-only" in hooks["asyncreview-fix"]["entry"].split() and "--fix-only" not in hooks["asyncreview"]["entry"].split()


def test_fix_hook_fixes_the_file_fails_once_then_passes(user_repo):
    """As every pre-commit fixer: a run that changed a file fails; the next one, on the fixed
    file, changes nothing and passes; the checking hook then passes too."""
    setup, run = user_repo
    project = setup(["asyncreview-fix", "asyncreview"])
    fixed = run()
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "files were modified by this hook" in fixed.stdout
    expected = BAD.replace("import time", "import asyncio\nimport time").replace("time.sleep(1)", "await asyncio.sleep(1)")
    assert (project.root / "svc/handler.py").read_text() == expected
    assert (project.root / "notes.txt").read_text() == "async def f():\n    time.sleep(1)\n"
    git(project.root, "add", ".")
    again = run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert (project.root / "svc/handler.py").read_text() == expected


def test_fails_on_a_blocking_call_and_passes_once_fixed(user_repo):
    setup, run = user_repo
    project = setup(["asyncreview"])
    failed = run()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "asyncreview" in failed.stdout and "Failed" in failed.stdout
    assert "svc/handler.py" in failed.stdout and "ARV201" in failed.stdout
    assert "notes.txt" not in failed.stdout
    project.write("svc/handler.py", FIXED)
    git(project.root, "add", ".")
    passed = run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_excludes_apply_to_files_pre_commit_passes(user_repo):
    setup, run = user_repo
    project = setup(["asyncreview"])
    project.write("pyproject.toml", '[project]\nname = "user"\nrequires-python = ">=3.9"\n\n[tool.asyncreview]\nexclude = ["svc"]\n')
    git(project.root, "add", ".")
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr


def test_llm_hook_without_a_key_says_so_and_still_reviews_locally(user_repo):
    setup, run = user_repo
    project = setup(["asyncreview-llm"])
    result = run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "LLM review skipped: set ANTHROPIC_API_KEY" in result.stdout and "ARV201" in result.stdout
    project.write("svc/handler.py", FIXED)
    git(project.root, "add", ".")
    clean = run()
    assert clean.returncode == 0 and "LLM review skipped" in clean.stdout  # verbose: the notice always shows


def test_the_readme_snippet_pins_a_commit_with_the_command_the_readme_gives(hooks_repo, project, pre_commit_home):
    """No release is tagged yet: the README's `rev: main` plus its autoupdate command must end
    with the commit's SHA in the user's config."""
    path, rev = hooks_repo
    git(path, "branch", "-f", "main", rev)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = readme[readme.index("**pre-commit** (`.pre-commit-config.yaml`)"):]
    snippet = snippet[snippet.index("```yaml\n") + 8: snippet.index("```\n", snippet.index("```yaml\n") + 8)]
    config = snippet.replace("https://github.com/asyncreview/asyncreview", str(path))
    command = re.search(r"`(pre-commit autoupdate --bleeding-edge --freeze)`", readme).group(1).split()
    project.write(".pre-commit-config.yaml", config)
    git(project.root, "init", "-q")
    env = dict(os.environ, PRE_COMMIT_HOME=str(pre_commit_home))
    completed = subprocess.run([sys.executable, "-m", "pre_commit", *command[1:]], cwd=project.root, capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pinned = yaml.safe_load((project.root / ".pre-commit-config.yaml").read_text())
    assert pinned["repos"][0]["rev"] == rev
    assert [hook["id"] for hook in pinned["repos"][0]["hooks"]] == ["asyncreview"]
