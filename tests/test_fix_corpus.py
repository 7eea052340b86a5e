"""The fix benchmark (benchmarks/fix_corpus.py) on a vendored mini-corpus: the built-in fixes
meet every "must", and each "must" fails for the rule whose deliberately wrong fix (a test
plugin) breaks it, with exit status 1."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import install_plugin_pack

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "data" / "fix-corpus"

PACK = """
import libcst as cst

from asyncreview.finding import Severity
from asyncreview.fixes import Rewrite
from asyncreview.plugins import hookimpl
from asyncreview.rule import Rule


def _called(node, name):
    return isinstance(node.func, cst.Name) and node.func.value == name


class WrongFixes(Rule):
    codes = ("XFB001", "XFB002", "XFB003", "XFB004", "XFB005", "XFB006")
    family = "wrongfixes"

    @classmethod
    def docs(cls):
        return {}

    def visit_Call(self, node):
        def report(code, fix=None):
            self.report(node, code.lower(), code=code, severity=Severity.WARNING, fix=fix)

        if _called(node, "breakme"):  # parses, but `break` outside a loop does not compile
            report("XFB001", Rewrite.safe((node, "break")))
        if _called(node, "stay"):  # the fix adds an argument; the call is still flagged
            report("XFB002", Rewrite.safe((node, node.with_changes(args=[*node.args, cst.Arg(cst.Integer("0"))])))
                   if len(node.args) == 1 else None)
        if _called(node, "swap"):  # the fix writes a call another check flags
            report("XFB003", Rewrite.unsafe((node, node.with_changes(func=cst.Name("swapped")))))
        if _called(node, "swapped"):
            report("XFB004")
        if _called(node, "grow"):  # `grow(1) + 0 + 0 ...`: never a fixed point
            report("XFB005", Rewrite.safe((node, cst.BinaryOperation(node, cst.Add(), cst.Integer("0")))))
        if _called(node, "unparse"):  # does not parse: the fixer drops it (ARV003)
            report("XFB006", Rewrite.safe((node, "(")))


class Pack:
    @hookimpl
    def asyncreview_rules(self):
        return [WrongFixes]


pack = Pack()
"""


def _run(tmp_path, *extra, env=None):
    report = tmp_path / "fix.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.fix_corpus", "--corpus", str(MINI), "--jobs", "1", "--json-out", str(report), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )
    return completed, json.loads(report.read_text(encoding="utf-8"))


def test_the_built_in_fixes_meet_every_must_on_the_mini_corpus(tmp_path):
    completed, report = _run(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report["ok"] is True
    arv201 = report["rules"]["ARV201"]
    assert (arv201["applied"], arv201["unsafe"], arv201["compile_after"], arv201["gone"], arv201["fixed_spots"]) == (1, 0, 1, 1, 1)
    assert (MINI / "mini" / "sleepy.py").read_text(encoding="utf-8").count("time.sleep(1)") == 1  # the copy was fixed
    assert "all met" in completed.stdout


def test_each_must_fails_for_the_rule_whose_fix_breaks_it(tmp_path):
    env = install_plugin_pack(tmp_path, "wrong_fixes", PACK, "[asyncreview]\nwrongfixes = wrong_fixes:pack\n")
    completed, report = _run(tmp_path, "--extend-select", "XFB", env=env)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    rules = report["rules"]
    failed = {code: sorted(check for check, ok in row["ok"].items() if not ok) for code, row in rules.items()}
    assert failed == {
        "ARV201": [],
        "XFB001": ["compiles"],
        "XFB002": ["gone"],
        "XFB003": ["new"],
        "XFB005": ["gone", "second_run"],
        "XFB006": ["dropped"],
    }
    assert rules["XFB001"]["compile_after"] == 0 and rules["XFB001"]["compiled_before"] == 1
    assert rules["XFB002"]["gone"] == 0 and rules["XFB002"]["fixed_spots"] == 1
    assert any("new finding XFB004" in line for line in rules["XFB003"]["failures"])
    assert rules["XFB005"]["applied"] == 10 and rules["XFB005"]["second_run"] == 10
    assert rules["XFB006"]["dropped"] == 1 and rules["XFB006"]["applied"] == 0
    assert "FAILED XFB001: compiles" in completed.stdout and "NOT MET" in completed.stdout
