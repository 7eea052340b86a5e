"""A bug is not a finding: a rule or reporter that raises, registered through the real entry
point, ends the run with exit status 2 and its cause in one line on stderr, and the report of
what was found is still written (ruff's convention)."""

import json

from conftest import install_plugin_pack

BROKEN = """
import os

from asyncreview.plugins import hookimpl
from asyncreview.rule import Rule


def render(context):
    raise ValueError("the reporter\\nbroke")


class Crashing(Rule):
    codes = ("XBR001",)
    family = "broken"

    @classmethod
    def docs(cls):
        return {}

    def visit_Call(self, node):
        raise RuntimeError("the rule broke")


class ScreenCrashing(Rule):
    codes = ("XBR002",)
    family = "broken-screen"

    @classmethod
    def docs(cls):
        return {}

    @classmethod
    def prefilter(cls, settings):
        raise LookupError("the prefilter broke")


class Pack:
    @hookimpl
    def asyncreview_reporters(self):
        return {"broken": render}

    @hookimpl
    def asyncreview_rules(self):
        if os.environ.get("BREAK_THE_HOOK"):
            raise OSError("the hook broke")
        return [Crashing, ScreenCrashing]


pack = Pack()
"""

APP = "import time\n\n\nasync def f():\n    time.sleep(1)\n"


def _install(tmp_path):
    return install_plugin_pack(tmp_path, "broken_pack", BROKEN, "[asyncreview]\nbroken = broken_pack:pack\n")


def _line_of(text):
    """The line of the plugin's source that holds `text`, as a traceback counts."""
    return next(number for number, line in enumerate(BROKEN.splitlines(), start=1) if text in line)


def _error_lines(err):
    return [line for line in err.splitlines() if "internal error" in line]


def test_a_reporter_that_raises_exits_2_and_the_other_reports_are_written(project, tmp_path, cli):
    project.write("app.py", APP)
    env = _install(tmp_path)
    written = tmp_path / "report.json"
    result = cli("--target-version", "3.10", "--format", "broken", "--report", f"json={written}", "app.py",
                 cwd=project.root, env=env)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert _error_lines(result.err) == [
        f"asyncreview: internal error in the broken reporter: ValueError: the reporter broke (at broken_pack/__init__.py:{_line_of('ValueError')})"
    ]
    assert [f["code"] for f in json.loads(written.read_text())["findings"]] == ["ARV201"]
    # The other way round: the main report is printed, the broken one is the failure.
    result = cli("--target-version", "3.10", "--format", "json", "--report", f"broken={tmp_path / 'x.txt'}", "app.py",
                 cwd=project.root, env=env)
    assert result.code == 2 and [f["code"] for f in result.json()["findings"]] == ["ARV201"]
    assert len(_error_lines(result.err)) == 1 and not (tmp_path / "x.txt").exists()


def test_a_rule_that_raises_exits_2_even_with_exit_zero_and_the_other_rules_report(project, tmp_path, cli):
    project.write("app.py", APP)
    project.write("clean.py", "x = 1\n")
    env = _install(tmp_path)
    for extra in ([], ["--exit-zero"]):
        result = cli("--target-version", "3.10", "--format", "json", "--extend-select", "XBR001", *extra, ".",
                     cwd=project.root, env=env)
        assert result.code == 2, result.err
        assert "Traceback" not in result.err
        # The crashing visitor costs only itself, in the one file it crashed in.
        assert sorted((f["path"], f["line"], f["code"]) for f in result.json()["findings"]) == [
            ("app.py", 1, "ARV003"), ("app.py", 5, "ARV201")]
        assert _error_lines(result.err) == [
            "asyncreview: app.py: internal error in Crashing (XBR001): RuntimeError: the rule broke"]
    # Without the pack, the same files: the blocking call, exit 1.
    result = cli("--target-version", "3.10", "--format", "json", ".", cwd=project.root)
    assert result.code == 1 and [f["code"] for f in result.json()["findings"]] == ["ARV201"]


def test_a_rule_whose_prefilter_raises_costs_each_file_an_arv003_not_the_run(project, tmp_path, cli):
    project.write("app.py", APP)
    project.write("clean.py", "x = 1\n")
    env = _install(tmp_path)
    result = cli("--target-version", "3.10", "--format", "json", "--extend-select", "XBR002", ".", cwd=project.root, env=env)
    assert result.code == 2 and "Traceback" not in result.err
    assert sorted((f["path"], f["code"]) for f in result.json()["findings"]) == [("app.py", "ARV003"), ("clean.py", "ARV003")]
    lines = _error_lines(result.err)
    assert len(lines) == 1 and lines[0].endswith("(and 1 more)") and "LookupError: the prefilter broke" in lines[0], lines


def test_internal_errors_are_not_cached(project, tmp_path, cli):
    project.write("app.py", APP)
    env = _install(tmp_path)
    first = cli("--target-version", "3.10", "--format", "json", "--extend-select", "XBR001", "app.py", cwd=project.root, env=env)
    again = cli("--target-version", "3.10", "--format", "json", "--extend-select", "XBR001", "app.py", cwd=project.root, env=env)
    assert first.code == again.code == 2
    assert again.json()["summary"]["cached"] == 0


def test_a_crash_outside_any_file_exits_2_with_its_cause_in_one_line(project, tmp_path, cli):
    project.write("app.py", APP)
    env = dict(_install(tmp_path), BREAK_THE_HOOK="1")
    result = cli("--target-version", "3.10", "app.py", cwd=project.root, env=env)
    assert result.code == 2
    assert result.err.splitlines() == [f"asyncreview: internal error: OSError: the hook broke (at broken_pack/__init__.py:{_line_of('hook broke')})"]
    verbose = cli("--target-version", "3.10", "--verbose", "app.py", cwd=project.root, env=env)
    assert verbose.code == 2 and "Traceback" in verbose.err  # --verbose shows where
