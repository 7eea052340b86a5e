"""The one-file path pre-commit takes stays light, and third-party rule packs still load from their
entry points now that they are read without importlib.metadata."""

import json
import os
import subprocess
import sys
import textwrap


def _imported(stderr):
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_one_file_does_not_import_pool_or_metadata_machinery(project, tmp_path):
    path = project.write("app.py", "import time\n\nasync def f():\n    time.sleep(1)\n")
    env = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    env.pop("ANTHROPIC_API_KEY", None)
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "asyncreview", "--format", "json", str(path)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert '"ARV201"' in completed.stdout
    imported = _imported(completed.stderr)
    assert "libcst" in imported  # the measurement works: the file was parsed
    # The LLM stage is decided on every run, but without --llm it costs no event loop, SDK or UI.
    for heavy in ("multiprocessing", "concurrent.futures.process", "importlib.metadata", "anthropic", "asyncio", "rich", "asyncreview.llm.orchestrator",
                  "pathspec"):  # a test extra only: asyncreview.wildmatch matches patterns
        assert heavy not in imported, heavy
    assert "asyncreview.llm.stage" in imported  # ... and the check above looked at the path that decides it


def test_rule_pack_registered_by_entry_point_runs(project, tmp_path, cli):
    site = tmp_path / "site"
    (site / "extra_pack").mkdir(parents=True)
    (site / "extra_pack" / "__init__.py").write_text(textwrap.dedent(
        """
        import libcst as cst
        from asyncreview.plugins import hookimpl
        from asyncreview.rule import Rule
        from asyncreview.finding import Severity


        class NoPrint(Rule):
            codes = ("XPK001",)
            family = "extra"

            @classmethod
            def docs(cls):
                return {}

            def visit_Call(self, node):
                if isinstance(node.func, cst.Name) and node.func.value == "print":
                    self.report(node, "print in a coroutine module", code="XPK001", severity=Severity.WARNING)


        class Pack:
            @hookimpl
            def asyncreview_rules(self):
                return [NoPrint]


        pack = Pack()
        """
    ), encoding="utf-8")
    info = site / "extra_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-pack\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nnothing = extra_pack:pack\n\n[asyncreview]\nextra = extra_pack:pack [speedups]\n",
        encoding="utf-8",
    )
    project.write("app.py", "async def f():\n    print('hi')\n")
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    result = cli("--select", "XPK", "--format", "json", "app.py", cwd=project.root, env={"PYTHONPATH": pythonpath})
    assert result.code == 1, result.err
    assert [(f["code"], f["line"]) for f in result.json()["findings"]] == [("XPK001", 2)]
    # Without the pack on the path the code is unknown.
    result = cli("--select", "XPK", "--format", "json", "app.py", cwd=project.root)
    assert "XPK001" not in result.out


def test_the_command_leaves_without_teardown_and_loses_no_output(project, tmp_path):
    """entry() ends with os._exit: everything written must still arrive, through a pipe (more than
    a pipe's buffer) and into --output, with main()'s exit code."""
    body = "import time\n\n" + "".join(f"async def f{i}():\n    time.sleep({i})\n\n" for i in range(400))
    path = project.write("app.py", body)
    env = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    env.pop("ANTHROPIC_API_KEY", None)
    script = os.path.join(os.path.dirname(sys.executable), "asyncreview")
    for command in ([script], [sys.executable, "-m", "asyncreview"]):
        piped = subprocess.run([*command, "--no-cache", str(path)], capture_output=True, text=True, env=env, timeout=120)
        assert piped.returncode == 1, piped.stderr[-2000:]
        assert len(piped.stdout) > 65536 and piped.stdout.rstrip().endswith("1 file checked."), piped.stdout[-300:]
        assert piped.stdout.count("ARV201") == 400
        report = tmp_path / "report.json"
        written = subprocess.run([*command, "--no-cache", "--format", "json", "-o", str(report), "--exit-zero", str(path)],
                                 capture_output=True, text=True, env=env, timeout=120)
        assert written.returncode == 0 and len(json.loads(report.read_text())["findings"]) == 400
    with open(script) as installed:
        assert "entry" in installed.read()  # the installed command is the one this test means
