"""The flake8 door for real: `python -m flake8 --select ARV` in a temporary project, with the
plugin found through its `flake8.extension` entry point."""

import subprocess
import sys

import pytest

APP = """\
import asyncio
import time


async def main():
    time.sleep(1)
    async with asyncio.timeout(3):
        await asyncio.sleep(1)
    time.sleep(2)  # noqa: ARV201
"""


def flake8(cwd, *args):
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "ARV", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )
    return completed


@pytest.fixture
def app(project, cache_dir):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("app.py", APP)
    return project


def test_reports_what_the_cli_reports_minus_noqa(app, cli):
    completed = flake8(app.root, "app.py")
    assert completed.returncode == 1, completed.stderr
    reported = [line.split(": ", 1) for line in completed.stdout.splitlines()]
    where = [(loc, text.split()[0]) for loc, text in reported]
    findings = cli("--format", "json", cwd=app.root).json()["findings"]
    # The CLI honours the same `# noqa` comment; flake8 applies it itself, so both agree.
    expected = sorted((f"app.py:{f['line']}:{f['column']}", f["code"]) for f in findings)
    assert sorted(where) == expected
    assert ("app.py:6:5", "ARV201") in where and ("app.py:7:16", "ARV101") in where
    assert not any(loc.startswith("app.py:9:") for loc, _ in where)
    message = dict(reported)["app.py:7:16"]
    assert message.startswith("ARV101 `asyncio.timeout` needs Python 3.11")


def test_target_version_option_and_config_file(app):
    newer = flake8(app.root, "--asyncreview-target-version", "3.11", "app.py")
    assert "ARV101" not in newer.stdout and "ARV201" in newer.stdout
    app.write(".flake8", "[flake8]\nasyncreview-target-version = 3.12\n")
    from_config = flake8(app.root, "app.py")
    assert "ARV101" not in from_config.stdout and "ARV201" in from_config.stdout


def test_project_config_selects_rules(app):
    app.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n\n[tool.asyncreview]\nignore = ["ARV2"]\n')
    completed = flake8(app.root, "app.py")
    assert "ARV101" in completed.stdout and "ARV201" not in completed.stdout
    assert "ARV" not in flake8(app.root, "--extend-ignore", "ARV1", "app.py").stdout


def test_bad_config_is_one_line_not_a_traceback(app):
    app.write("pyproject.toml", '[project]\nname = "p"\n\n[tool.asyncreview]\nselect = "ARV"\n')
    completed = flake8(app.root, "app.py")
    assert completed.stdout.count("ARV000") == 1 and "select" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_many_files_in_parallel_and_stdin(app):
    for index in range(12):
        app.write(f"pkg/m{index}.py", APP)
    completed = flake8(app.root, "--jobs", "4", "pkg")
    assert completed.returncode == 1
    assert completed.stdout.count("ARV201") == 12 and completed.stdout.count("ARV101") == 12
    piped = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "ARV", "-"], cwd=app.root, input=APP, capture_output=True, text=True
    )
    assert "stdin:6:5: ARV201" in piped.stdout


def test_stdin_display_name_checks_the_piped_text_not_the_file_on_disk(app):
    """Editors pipe an unsaved buffer with the file's name: the buffer is what gets checked."""
    fixed = APP.replace("    time.sleep(1)\n", "    await asyncio.sleep(1)\n")
    args = [sys.executable, "-m", "flake8", "--select", "ARV", "--stdin-display-name", "app.py", "-"]
    clean = subprocess.run(args, cwd=app.root, input=fixed, capture_output=True, text=True, timeout=300)
    assert "ARV201" not in clean.stdout and "Traceback" not in clean.stderr, clean.stdout + clean.stderr
    assert "app.py:7:16: ARV101" in clean.stdout
    app.write("clean.py", "import asyncio\n")
    args[-2] = "clean.py"
    dirty = subprocess.run(args, cwd=app.root, input="\n\n" + APP, capture_output=True, text=True, timeout=300)
    assert "clean.py:8:5: ARV201" in dirty.stdout, dirty.stdout + dirty.stderr


def test_project_excludes_and_per_file_ignores_apply(app):
    app.write(
        "pyproject.toml",
        '[project]\nname = "p"\nrequires-python = ">=3.9"\n\n[tool.asyncreview]\nexclude = ["generated"]\n\n'
        '[tool.asyncreview.per-file-ignores]\n"tests/*" = ["ARV2"]\n',
    )
    app.write("generated/gen.py", APP)
    app.write("tests/test_app.py", APP)
    completed = flake8(app.root, ".")
    lines = completed.stdout.splitlines()
    assert not any(line.startswith("./generated/") for line in lines), completed.stdout
    assert any(line.startswith("./tests/test_app.py:7:16: ARV101") for line in lines), completed.stdout
    assert not any(line.startswith("./tests/test_app.py:") and "ARV201" in line for line in lines)
    assert any(line.startswith("./app.py:6:5: ARV201") for line in lines)


def test_coding_cookie_and_crlf_columns_agree_with_the_cli(app, cli):
    source = "# -*- coding: latin-1 -*-\r\nimport time\r\n\r\n\r\nasync def main():\r\n    x = '\xe9\xe9'; time.sleep(1)\r\n"
    app.write("legacy.py", source.encode("latin-1"))
    completed = flake8(app.root, "legacy.py")
    (finding,) = cli("--format", "json", "legacy.py", cwd=app.root).json()["findings"]
    assert (finding["line"], finding["column"]) == (6, 15)
    assert completed.stdout.startswith("legacy.py:6:15: ARV201"), completed.stdout + completed.stderr


def test_the_cleanup_and_results_rules_have_flake8_codes(app):
    app.write("cleanup.py", (
        "import asyncio\n\n"
        "async def stop(lock, conn, users):\n"
        "    try:\n"
        "        await conn.run()\n"
        "    finally:\n"
        "        await conn.flush()\n"
        "        lock.release()\n"
        "    await asyncio.gather(*(u.notify() for u in users), return_exceptions=True)\n"
    ))
    completed = flake8(app.root, "--select", "ARV509,ARV511", "cleanup.py")
    codes = sorted(line.split(": ", 1)[1].split()[0] for line in completed.stdout.splitlines())
    assert codes == ["ARV509", "ARV511"], completed.stdout + completed.stderr
