"""The composite GitHub Action, run step by step: action.yml is parsed, every `run:` step goes
through bash with `${{ inputs.* }}` / `${{ github.* }}` substituted and a simulated runner
environment (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP, ... as temp files). The install step
really installs asyncreview from the action's own folder into a fresh venv."""

import json
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from fakeapi import FakeAnthropic
from test_github import FakeGitHub, shown_by_github

from conftest import REPO

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(inputs|github|runner)\.([\w-]+)\s*\}\}")


class Runner:
    """Just enough of the Actions runner to execute a composite action's bash steps."""

    def __init__(self, temp: Path, workspace: Path, github=None):
        self.temp = temp
        self.workspace = workspace
        self.github = dict(github or {}, token="ghs_runner_token")
        self.files = {}
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"):
            path = temp / "files" / name.lower()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
            self.files[name] = path

    def substitute(self, text, inputs):
        def value(match):
            scope, name = match.groups()
            if scope == "inputs":
                return str(inputs[name])
            if scope == "runner":
                return str({"temp": self.temp, "os": "Linux"}[name])
            return str(self.github[name])

        result = EXPRESSION.sub(value, str(text))
        assert "${{" not in result, f"expression the simulator does not know: {result}"
        return result

    def inputs(self, given):
        values = {}
        for name, spec in ACTION["inputs"].items():
            default = spec.get("default", "")
            values[name] = given.get(name, self.substitute(default, {}) if default else "")
        unknown = set(given) - set(values)
        assert not unknown, f"not an input of action.yml: {unknown}"
        return values

    def run(self, given=None, steps=None, env=None):
        inputs = self.inputs(given or {})
        results = []
        for step in ACTION["runs"]["steps"]:
            if steps is not None and step["name"] not in steps:
                continue
            if "uses" in step:  # GitHub's own actions (the cache): checked for shape, not run here
                continue
            assert step["shell"] == "bash"
            environment = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ANTHROPIC_", "INPUT_"))}
            environment.update(
                GITHUB_ACTIONS="true",
                GITHUB_ACTION_PATH=str(REPO),
                GITHUB_WORKSPACE=str(self.workspace),
                RUNNER_TEMP=str(self.temp),
                ASYNCREVIEW_CACHE_DIR=str(self.temp / "cache"),
                NO_COLOR="1",
                **{name: str(path) for name, path in self.files.items()},
            )
            environment.update({k: self.substitute(v, inputs) for k, v in (step.get("env") or {}).items()})
            environment.update(env or {})
            script = self.substitute(step["run"], inputs)
            completed = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.workspace, env=environment, capture_output=True, text=True, timeout=900,
            )
            results.append(completed)
            if completed.returncode != 0:
                break
        return results

    def outputs(self):
        return dict(line.split("=", 1) for line in self.files["GITHUB_OUTPUT"].read_text().splitlines() if "=" in line)

    def summary(self):
        return self.files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The install step, once: a fresh venv with asyncreview from the action's folder."""
    temp = tmp_path_factory.mktemp("runner-temp")
    runner = Runner(temp, temp)
    (install,) = runner.run(steps=["Install asyncreview"])
    assert install.returncode == 0, install.stderr
    assert "asyncreview" in install.stdout
    venv = temp / "asyncreview-venv"
    assert (venv / "bin" / "python").exists()
    return temp


@pytest.fixture
def runner(installed, project, tmp_path):
    def make(**github):
        # A per-test copy of the runner's files, sharing the installed venv.
        files_temp = tmp_path / "runner"
        files_temp.mkdir(exist_ok=True)
        link = files_temp / "asyncreview-venv"
        if not link.exists():
            link.symlink_to(installed / "asyncreview-venv")
        return Runner(files_temp, project.root, github)

    return make


def many_findings(project, criticals, warnings):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    lines = ["import asyncio", "import time", "", ""]
    lines += ["async def warnings():", "    pass"]
    for index in range(warnings):
        lines.append(f"    f{index} = open('x{index}')")  # ARV201 (file I/O: WARNING) and ARV301 (WARNING)
    lines += ["", "", "async def criticals():", "    pass"]
    lines += ["    time.sleep(1)"] * criticals  # ARV201 CRITICAL
    project.write("app.py", "\n".join(lines) + "\n")


def annotations(stdout):
    return [line for line in stdout.splitlines() if line.startswith("::")]


def test_annotations_most_severe_first_summary_sarif_and_exit_code(runner, project):
    many_findings(project, criticals=12, warnings=8)
    run = runner()
    (result,) = run.run(steps=["Run asyncreview"])
    assert result.returncode == 1, result.stderr
    found = annotations(result.stdout)
    assert len(found) == 12 + 16 + 1  # one notice says how many GitHub will not show
    assert all(line.startswith("::error ") for line in found[:12])
    assert all(line.startswith("::warning ") for line in found[12:28])
    # GitHub displays 10 of each kind per step: the errors first, then what the cap hides.
    shown = shown_by_github(result.stdout.splitlines())
    assert [kind for kind, _, _ in shown] == ["error"] * 10 + ["warning"] * 10 + ["notice"]
    assert all(props["title"].startswith("ARV201 ") for kind, props, _ in shown if kind == "error")
    assert "2 more errors and 6 more warnings are not annotated" in shown[-1][2]
    outputs = run.outputs()
    assert outputs["exit-code"] == "1" and outputs["sarif-file"] == "asyncreview.sarif"
    sarif = json.loads((project.root / "asyncreview.sarif").read_text(encoding="utf-8"))
    jsonschema.validate(sarif, SCHEMA, cls=jsonschema.Draft7Validator)
    assert len(sarif["runs"][0]["results"]) == 28
    summary = run.summary()
    assert summary.startswith("## asyncreview") and "**28 findings**" in summary
    assert re.search(r"^\| \S+ Critical \| 12 \|$", summary, re.M)


def test_fail_on_paths_and_a_clean_run(runner, project):
    many_findings(project, criticals=0, warnings=2)
    project.write("clean/ok.py", "import asyncio\n\n\nasync def f():\n    await asyncio.sleep(1)\n")
    run = runner()
    (result,) = run.run({"fail-on": "critical"}, steps=["Run asyncreview"])
    assert result.returncode == 0 and annotations(result.stdout)
    assert run.outputs()["exit-code"] == "0"
    run = runner()
    (result,) = run.run({"paths": "clean\n", "sarif-file": ""}, steps=["Run asyncreview"])
    assert result.returncode == 0 and not annotations(result.stdout)
    assert run.outputs()["sarif-file"] == "" and "No findings in 1 file checked." in run.summary()


def test_bad_input_fails_with_exit_2_and_an_error_annotation(runner, project):
    many_findings(project, criticals=1, warnings=0)
    run = runner()
    (result,) = run.run({"fail-on": "sometimes"}, steps=["Run asyncreview"])
    assert result.returncode == 2 and run.outputs()["exit-code"] == "2"
    assert "::error title=asyncreview::" in result.stdout and "sometimes" in result.stderr


def test_summary_stays_under_one_mebibyte(runner, project):
    many_findings(project, criticals=3000, warnings=0)
    run = runner()
    (result,) = run.run(steps=["Run asyncreview"])
    assert result.returncode == 1 and len(annotations(result.stdout)) == 3000 + 1
    summary = run.summary().encode("utf-8")
    assert 10_000 < len(summary) < 1024 * 1024
    assert b"more findings not shown" in summary


def test_an_oversized_summary_is_cut_at_a_line_under_one_mebibyte(runner, project):
    """The step's last guard: a report over the 1 MiB a step summary takes is cut at a line
    boundary and says so. The markdown report bounds itself, so the test overwrites it with
    the run's SARIF (an extra --report to the same file), which is megabytes here."""
    many_findings(project, criticals=3000, warnings=0)
    run = runner()
    summary_file = run.temp / "asyncreview-summary.md"
    (result,) = run.run({"args": f"--report sarif={summary_file}", "sarif-file": ""}, steps=["Run asyncreview"])
    assert result.returncode == 1, result.stderr
    assert summary_file.stat().st_size > 2 * 1024 * 1024
    summary = run.summary()
    assert 800_000 < len(summary.encode("utf-8")) < 1024 * 1024
    kept, note = summary.rsplit("\n\n_Summary cut at 900 kB", 1)
    assert kept.endswith("\n") and summary_file.read_text(encoding="utf-8").startswith(kept), "cut at a line end"
    assert note == "; the SARIF report has every finding._\n"


def test_llm_input_reviews_with_the_key_and_skips_without(runner, project):
    many_findings(project, criticals=2, warnings=0)
    fake = FakeAnthropic().start()
    try:
        run = runner()
        (result,) = run.run({"llm": "true", "anthropic-api-key": "sk-ant-action"}, steps=["Run asyncreview"], env={"ANTHROPIC_BASE_URL": fake.url})
        assert result.returncode == 1, result.stderr
        sarif = json.loads((project.root / "asyncreview.sarif").read_text(encoding="utf-8"))
        assert all(r["properties"]["review"]["verdict"] == "confirmed" for r in sarif["runs"][0]["results"])
        assert "LLM review: confirmed" in run.summary()
        requests = len(fake.arrivals)
        assert requests >= 1
        run = runner()
        (result,) = run.run({"llm": "true"}, steps=["Run asyncreview"], env={"ANTHROPIC_BASE_URL": fake.url})
        assert result.returncode == 1 and "LLM review skipped" in result.stderr
        assert len(fake.arrivals) == requests
    finally:
        fake.stop()


def test_pr_review_input_posts_through_the_api_url(runner, project, tmp_path):
    many_findings(project, criticals=1, warnings=0)
    source = (project.root / "app.py").read_text().splitlines()
    patch = f"@@ -1,0 +1,{len(source)} @@\n" + "\n".join("+" + line for line in source)
    fake = FakeGitHub([{"filename": "app.py", "patch": patch}])
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": "f00"}}}))
    try:
        run = runner()
        env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": "octo/shop", "GITHUB_EVENT_PATH": str(event)}
        (result,) = run.run({"pr-review": "true"}, steps=["Run asyncreview"], env=env)
    finally:
        fake.stop()
    assert result.returncode == 1, result.stderr
    (review,) = fake.reviews()
    assert review["commit_id"] == "f00" and len(review["comments"]) == 1
    assert all(r[2] == "Bearer ghs_runner_token" for r in fake.requests)  # inputs.github-token defaults to github.token


def test_inputs_are_never_pasted_into_scripts():
    """Inputs reach the scripts through env only (no script injection via a crafted input)."""
    for step in ACTION["runs"]["steps"]:
        assert not EXPRESSION.search(step.get("run", "")), step["name"]


def steps_by_name():
    return {step["name"]: step for step in ACTION["runs"]["steps"]}


def test_the_caches_are_restored_before_the_run_and_saved_after_it_even_on_findings():
    names = [step["name"] for step in ACTION["runs"]["steps"]]
    assert names == ["Install asyncreview", "Restore asyncreview caches", "Run asyncreview", "Save asyncreview caches"]
    steps = steps_by_name()
    restore, run, save = steps["Restore asyncreview caches"], steps["Run asyncreview"], steps["Save asyncreview caches"]
    assert restore["uses"] == "actions/cache/restore@v4" and save["uses"] == "actions/cache/save@v4"
    assert restore["if"] == "inputs.cache == 'true'" and ACTION["inputs"]["cache"]["default"] == "true"
    # exit 1 (findings) fails the run step: only always() still saves what that run paid for
    assert save["if"].startswith("always() && inputs.cache == 'true'")
    # one folder: what is restored, what the CLI is told to use, what is saved
    assert restore["with"]["path"] == save["with"]["path"] == run["env"]["ASYNCREVIEW_CACHE_DIR"] == "${{ runner.temp }}/asyncreview-cache"
    key = restore["with"]["key"]
    version, config, run_id = "${{ steps.install.outputs.version }}", "${{ hashFiles('**/pyproject.toml') }}", "${{ github.run_id }}"
    assert key.index(version) < key.index(config) < key.index(run_id)  # a prefix that stays, then this run
    assert "${{ runner.os }}" in key and key.endswith("${{ github.run_attempt }}")
    restore_keys = restore["with"]["restore-keys"].splitlines()
    assert restore_keys == [key[: key.index(run_id)], key[: key.index(config)]]  # same config first, then same version
    assert save["with"]["key"] == "${{ steps.cache-restore.outputs.cache-primary-key }}"


def test_the_install_step_gives_the_version_for_the_cache_key(installed):
    import asyncreview

    outputs = (installed / "files" / "github_output").read_text().splitlines()
    assert f"version={asyncreview.__version__}" in outputs


def test_the_run_writes_its_caches_in_the_folder_the_cache_steps_keep(runner, project):
    from asyncreview.store import RESULTS_STORE

    many_findings(project, criticals=1, warnings=0)
    run = runner()
    (result,) = run.run(steps=["Run asyncreview"])
    assert result.returncode == 1, result.stderr
    kept = Path(run.substitute(steps_by_name()["Save asyncreview caches"]["with"]["path"], {}))
    assert (kept / f"{RESULTS_STORE}.sqlite").is_file()
    assert not (run.temp / "cache").exists()  # the simulator's default folder: the action chose its own
    venv_python = run.temp / "asyncreview-venv" / "bin" / "python"
    stats = subprocess.run([str(venv_python), "-m", "asyncreview", "--cache-stats"], capture_output=True, text=True,
                           env=dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(kept)), timeout=300)
    assert re.search(rf"^{RESULTS_STORE}: [1-9]\d* entries", stats.stdout, re.M), stats.stdout
