"""ARV505 across modules: a coroutine function of one module called and dropped in another,
through a package's re-export, a module attribute and a receiver typed by annotation or
constructor (fixtures/correctness/awaited_project)."""

import shutil
from pathlib import Path

from test_blocking import marked_lines

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "correctness"


def test_coroutines_of_other_modules_called_and_dropped(cli, tmp_path):
    folder = tmp_path / "awaited_project"
    shutil.copytree(FIXTURES / "awaited_project", folder)
    # ARV3 has scripts.py parsed (it opens a file), where only library calls are ARV505's to report
    result = cli("--select", "ARV505,ARV3", "--format", "json", "--no-cache", folder)
    findings = result.json()["findings"]
    found = {(Path(f["path"]).relative_to(folder).as_posix(), f["line"]): f["code"] for f in findings}
    assert found == marked_lines(folder), result.out
    assert all(f["severity"] == "CRITICAL" for f in findings)
    second = cli("--select", "ARV505,ARV3", "--format", "json", folder)  # the cache fill, then from the cache
    third = cli("--select", "ARV505,ARV3", "--format", "json", folder)
    assert second.json()["findings"] == third.json()["findings"] == findings


def test_a_module_alone_does_not_know_another_modules_coroutines(cli, tmp_path):
    """The finding needs the join: main.py analyzed without client.py has no coroutine to name."""
    folder = tmp_path / "awaited_project"
    shutil.copytree(FIXTURES / "awaited_project", folder)
    (folder / "app" / "client.py").unlink()
    result = cli("--select", "ARV505", "--format", "json", "--no-cache", folder)
    assert result.json()["findings"] == [], result.out
