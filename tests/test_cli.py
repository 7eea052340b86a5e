"""The command line end to end, in subprocesses: exit codes, JSON shape, config discovery and
errors, target inference, noqa, bad input."""

from pathlib import Path

import pytest

TIMEOUT_CODE = """
import asyncio

async def fetch(client):
    async with asyncio.timeout(5):
        return await client.get("/")
"""


def test_clean_project_exits_zero(cli, project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.11"\n')
    project.write("app.py", TIMEOUT_CODE)
    result = cli(project.root)
    assert result.code == 0, result.out + result.err
    assert "All clear: 1 file checked, no findings." in result.out


def test_finding_exits_one_with_caret_report(cli, project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.10"\n')
    project.write("pkg/app.py", TIMEOUT_CODE)
    result = cli(".", cwd=project.root)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "pkg/app.py"
    assert "4:16" in lines[1] and "CRITICAL" in lines[1] and "ARV101" in lines[1]
    assert "requires-python '>=3.10' in pyproject.toml" in lines[1]
    assert lines[2].strip() == "4 |     async with asyncio.timeout(5):"
    assert lines[3].endswith("|                " + "^" * len("asyncio.timeout"))


def test_json_shape(cli, project):
    project.write("app.py", TIMEOUT_CODE)
    result = cli("--format", "json", "--target-version", "3.10", ".", cwd=project.root)
    assert result.code == 1
    document = result.json()
    assert set(document) == {"findings", "summary"}
    (finding,) = document["findings"]
    for key in ("path", "line", "column", "end_line", "end_column", "code", "severity", "message", "snippet", "source"):
        assert key in finding
    assert finding["path"] == "app.py"
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (4, 16, 4, 31)
    assert finding["severity"] == "CRITICAL" and finding["source"] == "local"
    assert finding["snippet"] == "    async with asyncio.timeout(5):"
    assert document["summary"]["findings"] == 1
    assert document["summary"]["by_severity"]["CRITICAL"] == 1


@pytest.mark.parametrize(
    "requires, expected",
    [(">=3.8", "3.8"), ("~=3.10", "3.10"), (">=3.9,<4", "3.9"), (">3.10", "3.10"), ("==3.12.*", "3.12")],
)
def test_target_from_requires_python(cli, project, requires, expected):
    project.write("pyproject.toml", f'[project]\nname = "p"\nrequires-python = "{requires}"\n')
    project.write("app.py", "import asyncio\nasyncio.Runner\nasyncio.to_thread\n")  # 3.11, 3.9
    result = cli("--format", "json", ".", cwd=project.root)
    flagged = {f["line"] for f in result.json()["findings"]}
    assert flagged == {line for line, added in ((2, (3, 11)), (3, (3, 9))) if tuple(map(int, expected.split("."))) < added}
    if flagged:
        assert f"supports {expected} (requires-python '{requires}'" in result.json()["findings"][0]["message"]


def test_target_precedence_cli_over_config_over_requires(cli, project):
    project.write(
        "pyproject.toml",
        '[project]\nname = "p"\nrequires-python = ">=3.8"\n[tool.asyncreview]\ntarget-version = "3.10"\n',
    )
    project.write("app.py", "import asyncio\nasyncio.to_thread\nasyncio.timeout\n")
    from_config = cli("--format", "json", ".", cwd=project.root).json()["findings"]
    assert [f["line"] for f in from_config] == [3]
    assert "target-version in pyproject.toml" in from_config[0]["message"]
    from_cli = cli("--format", "json", "--target-version", "3.11", ".", cwd=project.root)
    assert from_cli.code == 0 and from_cli.json()["findings"] == []


def test_default_target_is_announced(cli, project):
    project.write("app.py", "import asyncio\nasyncio.to_thread\n")
    result = cli(".", cwd=project.root)
    assert "no target Python found; assuming 3." in result.err
    assert "oldest CPython still supported" in result.err


def test_nearest_pyproject_governs_each_folder(cli, project):
    project.write("pyproject.toml", '[project]\nname = "outer"\nrequires-python = ">=3.11"\n')
    project.write("outer.py", TIMEOUT_CODE)
    project.write("legacy/pyproject.toml", '[project]\nname = "legacy"\nrequires-python = ">=3.9"\n')
    project.write("legacy/old.py", TIMEOUT_CODE)
    findings = cli("--format", "json", ".", cwd=project.root).json()["findings"]
    assert [f["path"] for f in findings] == ["legacy/old.py"]


@pytest.mark.parametrize(
    "config, message",
    [
        ('[tool.asyncreview]\nselct = ["ARV1"]\n', "unknown key 'selct' in [tool.asyncreview]"),
        ('[tool.asyncreview]\nselect = "ARV1"\n', "bad value for 'select'"),
        ('[tool.asyncreview]\nselect = ["XYZ9"]\n', "unknown rule selector 'XYZ9'"),
        ('[tool.asyncreview.per-file-ignores]\n"x.py" = ["other"]\n', "per-file-ignores 'x.py': unknown rule selector 'other'"),
        ('[tool.asyncreview]\ntarget-version = "2.7"\n', "bad value for 'target-version'"),
        ('[tool.asyncreview]\nfail-on = "fatal"\n', "bad value for 'fail-on'"),
        ("[tool.asyncreview\nselect = 1\n", "invalid TOML"),
        ('[project]\nname = "p"\nrequires-python = ">=banana"\n', "requires-python"),
    ],
)
def test_config_errors_exit_two_naming_file_and_key(cli, project, config, message):
    project.write("pyproject.toml", config)
    project.write("app.py", TIMEOUT_CODE)
    result = cli(".", cwd=project.root)
    assert result.code == 2
    assert "pyproject.toml" in result.err and message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--select", "NOPE1"], "unknown rule selector 'NOPE1'"),
        (["--target-version", "banana"], "not a Python version"),
        (["--fail-on", "loud"], "unknown severity"),
        (["--format", "xml"], "unknown --format 'xml'"),
    ],
)
def test_usage_errors_exit_two(cli, project, args, message):
    project.write("app.py", TIMEOUT_CODE)
    result = cli(*args, ".", cwd=project.root)
    assert result.code == 2 and message in result.err


def test_select_ignore_prefixes(cli, project):
    project.write("app.py", "import asyncio\nasyncio.timeout\nasyncio.create_task(x(), context=None)\n")
    def codes(*args):
        return sorted(f["code"] for f in cli("--format", "json", "--target-version", "3.9", *args, ".", cwd=project.root).json()["findings"])
    assert codes() == ["ARV101", "ARV102"]
    assert codes("--select", "ARV102") == ["ARV102"]
    assert codes("--ignore", "ARV1") == []
    assert codes("--ignore", "ARV1", "--extend-select", "ARV101") == ["ARV101"]
    assert codes("--select", "ARV1", "--ignore", "ARV102") == ["ARV101"]


def test_fail_on_and_exit_zero(cli, project):
    project.write("app.py", TIMEOUT_CODE)
    assert cli("--target-version", "3.10", ".", cwd=project.root).code == 1
    assert cli("--target-version", "3.10", "--exit-zero", ".", cwd=project.root).code == 0
    assert cli("--target-version", "3.10", "--fail-on", "critical", ".", cwd=project.root).code == 1
    project.write("pyproject.toml", '[tool.asyncreview]\nfail-on = "critical"\ntarget-version = "3.10"\n')
    assert cli(".", cwd=project.root).code == 1


def test_noqa_on_line_and_statement_start(cli, project):
    project.write(
        "app.py",
        """
        import asyncio

        async def a():
            async with asyncio.timeout(1):  # noqa: ARV101
                await asyncio.sleep(0)

        async def b():
            async with asyncio.timeout(1):  # noqa
                await asyncio.sleep(0)

        async def c():
            await asyncio.gather(  # noqa: ARV1
                asyncio.to_thread(print),
            )

        async def d():
            async with asyncio.timeout(1):  # noqa: ARV2
                await asyncio.sleep(0)
        """,
    )
    result = cli("--format", "json", "--target-version", "3.8", ".", cwd=project.root)
    assert [f["line"] for f in result.json()["findings"]] == [17]
    assert result.json()["summary"]["suppressed"] == 3


def test_per_file_ignores_and_excludes(cli, project):
    project.write(
        "pyproject.toml",
        '[tool.asyncreview]\ntarget-version = "3.10"\nexclude = ["generated"]\n'
        '[tool.asyncreview.per-file-ignores]\n"tests/*" = ["ARV101"]\n',
    )
    project.write("tests/test_app.py", TIMEOUT_CODE)
    project.write("generated/out.py", TIMEOUT_CODE)
    project.write("src/app.py", TIMEOUT_CODE)
    project.write(".venv/lib/x.py", TIMEOUT_CODE)
    project.write("build/lib/x.py", TIMEOUT_CODE)
    project.write("ignored_by_git/x.py", TIMEOUT_CODE)
    project.write(".gitignore", "ignored_by_git/\n")
    result = cli("--format", "json", ".", cwd=project.root)
    assert [f["path"] for f in result.json()["findings"]] == ["src/app.py"]
    assert result.json()["summary"]["files"] == 2


def test_explicit_file_is_checked_unless_force_exclude(cli, project):
    project.write("pyproject.toml", '[tool.asyncreview]\ntarget-version = "3.10"\nexclude = ["generated"]\n')
    project.write("generated/out.py", TIMEOUT_CODE)
    assert cli("generated/out.py", cwd=project.root).code == 1
    assert cli("--force-exclude", "generated/out.py", cwd=project.root).code == 0


def test_bad_input_one_diagnostic_each_and_the_run_goes_on(cli, project):
    good = project.write("good.py", TIMEOUT_CODE)
    project.write("syntax.py", "import asyncio\ndef broken(:\n    pass\n")
    project.write("binary.py", b"import asyncio\x00\xff\xfe\x00garbage")
    project.write("latin.py", b"# -*- coding: latin-1 -*-\nimport asyncio\nname = '\xe9'\nasyncio.timeout\n")
    project.write("badutf8.py", b"import asyncio\nname = '\xe9'\n")
    project.write("bom.py", b"\xef\xbb\xbfimport asyncio\r\nasyncio.timeout\r\n")
    project.write("deep.py", "import asyncio\nx = " + "(" * 3000 + "1" + ")" * 3000 + "\n")
    project.write("chain.py", "import asyncio\nx = " + "+".join(["1"] * 100000) + "\n")
    result = cli("--format", "json", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    by_path = {}
    for finding in result.json()["findings"]:
        by_path.setdefault(finding["path"], []).append(finding["code"])
    assert by_path == {
        "good.py": ["ARV101"],
        "latin.py": ["ARV101"],
        "bom.py": ["ARV101"],
        "syntax.py": ["ARV001"],
        "binary.py": ["ARV002"],
        "badutf8.py": ["ARV002"],
        "deep.py": ["ARV001"],
        "chain.py": ["ARV001"],
    }
    assert good.exists()


def test_parallel_and_serial_runs_agree(cli, project):
    for number in range(40):
        project.write(f"pkg/mod{number}.py", TIMEOUT_CODE + "\n" * number + "x = 1\n" * 400)
    serial = cli("--format", "json", "--no-cache", "-j", "1", "--target-version", "3.10", ".", cwd=project.root).json()
    parallel = cli("--format", "json", "--no-cache", "-j", "2", "--target-version", "3.10", ".", cwd=project.root).json()
    assert len(serial["findings"]) == 40
    assert serial["findings"] == parallel["findings"]


def test_cache_makes_second_run_reuse_results(cli, project):
    project.write("app.py", TIMEOUT_CODE)
    first = cli("--format", "json", "--target-version", "3.10", ".", cwd=project.root).json()
    second = cli("--format", "json", "--target-version", "3.10", ".", cwd=project.root).json()
    assert first["summary"]["cached"] == 0 and second["summary"]["cached"] == 1
    assert first["findings"] == second["findings"]
    # A different target is a different config: no stale reuse.
    third = cli("--format", "json", "--target-version", "3.11", ".", cwd=project.root).json()
    assert third["summary"]["cached"] == 0 and third["findings"] == []
    uncached = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root).json()
    assert uncached["summary"]["cached"] == 0


def test_statistics_and_quiet(cli, project):
    project.write("app.py", TIMEOUT_CODE + "\nasyncio.timeout\n")
    result = cli("--statistics", "--quiet", "--target-version", "3.10", ".", cwd=project.root)
    assert result.code == 1
    assert "    2  ARV101  CRITICAL" in result.out
    assert "async with" not in result.out
    assert result.out.strip().endswith("1 file checked.")


def test_version_and_help(cli):
    from asyncreview import __version__

    assert cli("--version").out.strip() == f"asyncreview {__version__}"
    help_text = cli("--help").out
    for option in ("--select", "--ignore", "--extend-select", "--format", "--target-version", "--fail-on", "--exit-zero", "--no-cache", "--statistics"):
        assert option in help_text


def test_missing_path_is_a_diagnostic(cli, project):
    project.write("app.py", TIMEOUT_CODE)
    result = cli("--format", "json", "--target-version", "3.10", "app.py", "nope.py", cwd=project.root)
    codes = {(f["path"], f["code"]) for f in result.json()["findings"]}
    assert codes == {("app.py", "ARV101"), ("nope.py", "ARV002")}


def test_symlink_loop_does_not_hang(cli, project):
    project.write("pkg/app.py", TIMEOUT_CODE)
    (project.root / "pkg" / "loop").symlink_to(project.root / "pkg")
    (project.root / "dangling.py").symlink_to(project.root / "missing.py")
    result = cli("--format", "json", "--target-version", "3.10", ".", cwd=project.root)
    assert [f["path"] for f in result.json()["findings"] if f["code"] == "ARV101"] == ["pkg/app.py"]


def test_the_readme_sample_shows_every_rule_family(cli):
    repo = Path(__file__).resolve().parent.parent
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "pip install . && asyncreview examples/" in readme.split("## Usage")[0]
    result = cli("--no-cache", "--format", "json", "examples/", cwd=repo)
    assert result.code == 1
    codes = sorted(f["code"] for f in result.json()["findings"])
    assert codes == ["ARV101", "ARV101", "ARV201", "ARV202", "ARV202", "ARV301", "ARV305", "ARV401"]
    compat = next(f for f in result.json()["findings"] if f["code"] == "ARV101")
    assert "requires-python '>=3.10' in examples/pyproject.toml" in compat["message"]
