"""Reporters are pluggable: a package that implements `asyncreview_reporters` and declares an
entry point in the `asyncreview` group adds a `--format` (and a `--report FORMAT=FILE`), exactly
as the built-in reporters register."""

from conftest import install_plugin_pack

PACK = """
from asyncreview.plugins import hookimpl


def render(context):
    rows = [f"{f.code}\\t{f.path}\\t{f.line}\\t{f.severity.value}" for f in context.result.findings]
    return "\\n".join(["code\\tpath\\tline\\tseverity", *rows]) + "\\n"


class Pack:
    @hookimpl
    def asyncreview_reporters(self):
        return {"tsv": render}


pack = Pack()
"""


def install_pack(tmp_path):
    return install_plugin_pack(tmp_path, "tsv_report", PACK, "[asyncreview]\ntsv = tsv_report:pack\n")


def test_a_reporter_plugin_adds_a_format(project, tmp_path, cli):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("app.py", "import time\n\n\nasync def f():\n    time.sleep(1)\n")
    env = install_pack(tmp_path)
    result = cli("--format", "tsv", "app.py", cwd=project.root, env=env)
    assert result.code == 1, result.err
    assert result.out == "code\tpath\tline\tseverity\nARV201\tapp.py\t5\tCRITICAL\n"
    # The same plugin serves --report next to a built-in format, from one run.
    target = tmp_path / "out.tsv"
    both = cli("--format", "json", "--report", f"tsv={target}", "app.py", cwd=project.root, env=env)
    assert both.json()["findings"][0]["code"] == "ARV201"
    assert target.read_text(encoding="utf-8").splitlines()[1].startswith("ARV201\tapp.py\t5")
    # Without the plugin on the path the format is unknown: a usage error naming the choices.
    missing = cli("--format", "tsv", "app.py", cwd=project.root)
    assert missing.code == 2 and "unknown --format 'tsv'" in missing.err and "sarif" in missing.err
