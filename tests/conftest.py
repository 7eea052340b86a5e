import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI (.ci/run sets CI=true) replays the same examples on every run, so a submission is judged on
# its code, not on which inputs a random search happened to draw; runs on a workstation still
# search anew each time and keep what they find in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
# The console script pip installed next to this interpreter: the front door a user runs.
SCRIPT = Path(sys.executable).with_name("asyncreview.exe" if os.name == "nt" else "asyncreview")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ASYNCREVIEW_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def project(tmp_path):
    """A throwaway project folder; write(name, text) dedents and creates parents."""

    class Project:
        root = tmp_path / "proj"

        def write(self, name, text):
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
            return path

    Project.root.mkdir()
    return Project()


class CliResult:
    def __init__(self, completed):
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(tmp_path):
    """Runs the installed console script in a subprocess, as a user would."""
    cache = tmp_path / "cli-cache"

    def run(*args, cwd=None, env=None, stdin=None):
        environment = dict(os.environ, ASYNCREVIEW_CACHE_DIR=str(cache), NO_COLOR="1")
        environment.pop("ANTHROPIC_API_KEY", None)
        environment.update(env or {})
        completed = subprocess.run(
            [str(SCRIPT), *map(str, args)],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=300,
        )
        return CliResult(completed)

    return run


def install_plugin_pack(tmp_path, package, source, entry_points):
    """A plugin package installed as pip would (a folder on the path, a dist-info with its entry
    points), for a subprocess: returns the environment that puts it on PYTHONPATH."""
    site = tmp_path / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    name = package.replace("_", "-")
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))}
