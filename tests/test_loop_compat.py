"""ARV105: `asyncio.get_event_loop()` where no loop runs, and the policy API, judged by the
project's Python range (rules/compat/versions.toml, `changed`). The examples and the fixture
(fixtures/compat/loop_outside_running.py) cover the places; here: severity and message by range,
version guards, the requires-python range through the CLI, and the flake8 code."""

import subprocess
import sys

from asyncreview.checks.loop_compat import ChangedBehaviour
from asyncreview.finding import Severity
from asyncreview.testing import findings_for

MODULE_LEVEL = "import asyncio\n\nloop = asyncio.get_event_loop()\n"
STARTED = "import asyncio\n\ndef main(work):\n    loop = asyncio.get_event_loop()\n    loop.run_until_complete(work())\n"


def _found(code, target="3.9", newest="3.14"):
    return [(f.line, f.severity, f.message) for f in findings_for(code, [ChangedBehaviour], target, newest)]


def test_critical_when_the_newest_python_raises_and_the_message_names_versions_and_fix():
    [(line, severity, message)] = _found(MODULE_LEVEL)
    assert (line, severity) == (3, Severity.CRITICAL)
    assert "raises on Python 3.14 (RuntimeError)" in message
    assert "warns on Python 3.10.0-3.10.8, 3.11.0, 3.12-3.13 (DeprecationWarning)" in message
    assert "`asyncio.run(main())`" in message and "asyncio.set_event_loop(loop)" in message


def test_warning_when_the_supported_pythons_only_warn():
    [(_, severity, message)] = _found(MODULE_LEVEL, target="3.12", newest="3.13")
    assert severity == Severity.WARNING
    assert "warns on Python 3.12-3.13 (DeprecationWarning)" in message and "raises" not in message
    [(_, severity, message)] = _found(STARTED, target="3.11", newest="3.11")
    assert severity == Severity.WARNING and "warns on Python 3.11.0 (" in message


def test_nothing_where_no_supported_python_warns():
    assert _found(MODULE_LEVEL, target="3.8", newest="3.9") == []
    assert _found(STARTED, target="3.9", newest="3.9") == []


def test_version_guards_narrow_the_pythons():
    old_only = "import sys, asyncio\n\nif sys.version_info < (3, 12):\n    loop = asyncio.get_event_loop()\nelse:\n    loop = asyncio.new_event_loop()\n"
    [(line, severity, message)] = _found(old_only)
    assert (line, severity) == (4, Severity.WARNING)
    assert "warns on Python 3.10.0-3.10.8, 3.11.0 (DeprecationWarning);" in message
    [(_, _, message)] = _found(old_only, target="3.11")
    assert "warns on Python 3.11.0 (DeprecationWarning);" in message
    not_new = "import sys, asyncio\n\nif sys.version_info < (3, 10):\n    loop = asyncio.get_event_loop()\n"
    assert _found(not_new) == []


def test_a_sync_function_is_flagged_only_when_it_starts_the_loop_it_got():
    assert [line for line, _, _ in _found(STARTED)] == [4]
    returned = "import asyncio\n\ndef loop_of():\n    return asyncio.get_event_loop()\n"
    assert _found(returned) == []
    other = "import asyncio\n\ndef main(other, work):\n    loop = asyncio.get_event_loop()\n    other.run_forever()\n    return loop\n"
    assert _found(other) == []
    in_coroutine = "import asyncio\n\nasync def main(work):\n    def start():\n        loop = asyncio.get_event_loop()\n        loop.run_until_complete(work())\n    start()\n"
    assert _found(in_coroutine) == []


def test_policy_api_warns_from_3_14_only():
    code = "import asyncio\n\nasyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())\n"
    found = _found(code)
    assert [(line, severity) for line, severity, _ in found] == [(3, Severity.WARNING)] * 2
    assert all("removal planned in 3.16" in message for _, _, message in found)
    assert _found(code, newest="3.13") == []


def test_the_cli_takes_the_range_from_requires_python(project, cli):
    project.write("app.py", MODULE_LEVEL)
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9,<3.14"\n')
    [finding] = cli("--format", "json", "--select", "ARV105", cwd=project.root).json()["findings"]
    assert finding["severity"] == "WARNING" and "3.12-3.13" in finding["message"]
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    [finding] = cli("--format", "json", "--select", "ARV105", "--no-cache", cwd=project.root).json()["findings"]
    assert finding["severity"] == "CRITICAL" and "raises on Python 3.14" in finding["message"]


def test_flake8_reports_it_as_arv105(project):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    project.write("app.py", MODULE_LEVEL)
    completed = subprocess.run([sys.executable, "-m", "flake8", "--select", "ARV", "app.py"],
                               cwd=project.root, capture_output=True, text=True, timeout=300)
    assert completed.stdout.startswith("app.py:3:8: ARV105 `asyncio.get_event_loop()`"), completed.stdout + completed.stderr


def test_an_annotated_binding_is_followed_too():
    annotated = "import asyncio\n\ndef main(work):\n    loop: asyncio.AbstractEventLoop = asyncio.get_event_loop()\n    loop.run_forever()\n"
    assert [line for line, _, _ in _found(annotated)] == [4]


def test_noqa_hides_a_finding_made_at_the_end_of_its_function(project, cli):
    project.write("pyproject.toml", '[project]\nname = "p"\nrequires-python = ">=3.9"\n')
    # the statement's first line, as for every finding; the statement is the call's, not the def's
    spread = ("import asyncio\n\ndef main(work):\n    loop = (  # noqa: ARV105\n        asyncio.get_event_loop()\n    )\n"
              "    loop.run_until_complete(work())\n")
    project.write("app.py", spread)
    assert cli("--format", "json", "--select", "ARV105", cwd=project.root).json()["findings"] == []
    project.write("app.py", spread.replace("  # noqa: ARV105", ""))
    [finding] = cli("--format", "json", "--select", "ARV105", "--no-cache", cwd=project.root).json()["findings"]
    assert finding["line"] == 5


def test_the_policy_api_is_not_flagged_where_it_never_runs():
    unrun = ("from __future__ import annotations\nimport asyncio\nfrom typing import TYPE_CHECKING\n\n"
             "if TYPE_CHECKING:\n    from asyncio import AbstractEventLoopPolicy\n\n"
             "def install(policy: asyncio.AbstractEventLoopPolicy) -> None:\n    pass\n")
    assert _found(unrun) == []
    evaluated = unrun.replace("from __future__ import annotations\n", "").replace("if TYPE_CHECKING:\n    from", "if not TYPE_CHECKING:\n    from")
    assert [line for line, _, _ in _found(evaluated)] == [5, 7]
