"""ARV2xx through the real CLI: chains across modules of a project, the depth limit, recursion,
offloading, suppressions, the cache, config extensions; and the table's examples cover every group."""

import json
import re
import shutil
from pathlib import Path

from asyncreview.catalogue import load_table, rule_docs
from asyncreview.checks.blocking import RULES, Table
from asyncreview.testing import findings_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "blocking"

PYPROJECT = """
[tool.asyncreview]
target-version = "3.9"
"""


def write_package(project, extra_config=""):
    project.write("pyproject.toml", PYPROJECT + extra_config)
    project.write("pkg/__init__.py", "from .store import load_raw\n")
    project.write(
        "pkg/store.py",
        """
        import json


        def load_raw(path):
            with open(path) as handle:
                return handle.read()


        def load(path):
            return json.loads(load_raw(path))


        def ping(n):
            from .cycle import pong
            return pong(n)
        """,
    )
    project.write(
        "pkg/cycle.py",
        """
        from . import store


        def pong(n):
            return store.ping(n - 1) if n else 0
        """,
    )
    project.write(
        "pkg/service.py",
        """
        from .store import load


        def get_config(path):
            return load(path)
        """,
    )
    project.write(
        "app/handlers.py",
        """
        import asyncio

        from pkg import load_raw
        from pkg.service import get_config
        from pkg.store import ping


        async def handler(path):
            config = get_config(path)
            await asyncio.to_thread(get_config, path)
            raw = load_raw(path)
            ping(3)
            quiet = get_config(path)  # noqa: ARV202
            return config, raw, quiet
        """,
    )


def arv202(result):
    return [f for f in result.json()["findings"] if f["code"] == "ARV202"]


def test_chain_across_modules_is_reported_at_the_call_in_the_coroutine(cli, project):
    write_package(project)
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", project.root)
    assert result.code == 1, result.err
    found = {f["line"]: f for f in arv202(result)}
    assert sorted(found) == [9, 11], result.out  # not the offloaded call, the cycle, the noqa line
    chain = found[9]
    assert chain["path"].endswith("app/handlers.py")
    assert "handler() -> get_config() -> load() -> load_raw() -> open()" in chain["message"]
    assert chain["severity"] == "WARNING"
    assert "config = get_config(path)" in chain["snippet"]
    assert "with open(path) as handle:" in chain["snippet"]  # the helper's blocking line
    assert re.search(r"pkg/store\.py:5", chain["snippet"])
    # Re-exported through pkg/__init__.py: `from pkg import load_raw`.
    assert "handler() -> load_raw() -> open()" in found[11]["message"]


def test_modules_without_coroutines_are_parsed_only_when_a_chain_reads_them(cli, project):
    """pkg/ holds no coroutine: its modules wait until the join follows a call into them (two
    rounds here: service.py, then store.py through load(), and pkg/__init__.py's re-export).
    A module no chain reaches is checked for syntax but never parsed."""
    write_package(project)
    project.write("pkg/unused.py", "import time\n\n\ndef nap():\n    time.sleep(1)\n")
    project.write("pkg/broken.py", "import time\n\ndef nap(:\n")
    result = cli("--select", "ARV", "--format", "json", "--no-cache", project.root)
    summary = result.json()["summary"]
    assert (summary["files"], summary["parsed"]) == (7, 5), summary
    assert sorted(f["line"] for f in arv202(result)) == [9, 11]
    broken = [f for f in result.json()["findings"] if f["path"].endswith("broken.py")]
    assert [(f["code"], f["line"]) for f in broken] == [("ARV001", 3)]


def test_a_cached_pending_module_is_parsed_when_a_new_chain_reaches_it(cli, project):
    write_package(project)
    project.write("pkg/unused.py", "import time\n\n\ndef nap():\n    time.sleep(1)\n")
    first = cli("--select", "ARV2", "--format", "json", project.root)
    assert (first.json()["summary"]["parsed"], len(arv202(first))) == (5, 2)
    handlers = (project.root / "app/handlers.py").read_text()
    project.write("app/handlers.py", handlers.replace("    return config, raw, quiet", "    nap()\n    return config, raw, quiet")
                  .replace("import asyncio\n", "import asyncio\n\nfrom pkg.unused import nap\n"))
    second = cli("--select", "ARV2", "--format", "json", project.root)
    summary = second.json()["summary"]
    assert (summary["cached"], summary["parsed"]) == (5, 6), summary  # unused.py came from the cache, pending
    naps = [f for f in arv202(second) if "nap() -> time.sleep()" in f["message"]]
    assert [f["line"] for f in naps] == [16] and "pkg/unused.py:5" in naps[0]["snippet"]
    third = cli("--select", "ARV2", "--format", "json", project.root)
    assert arv202(third) == arv202(second) and third.json()["summary"]["cached"] == 6


def test_depth_limit_from_config(cli, project):
    write_package(project, "blocking-max-depth = 2\n")
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", project.root)
    lines = sorted(f["line"] for f in arv202(result))
    assert lines == [11], result.out  # get_config -> load -> load_raw needs three helpers


def test_cached_run_reports_the_same_chains(cli, project):
    write_package(project)
    first = cli("--select", "ARV2", "--format", "json", project.root)
    second = cli("--select", "ARV2", "--format", "json", project.root)
    assert arv202(first) == arv202(second) and len(arv202(first)) == 2
    assert second.json()["summary"]["cached"] == second.json()["summary"]["files"] == 5


def test_a_cached_join_follows_a_change_in_another_module(cli, project):
    write_package(project)
    assert len(arv202(cli("--select", "ARV2", "--format", "json", project.root))) == 2
    # The helper two modules away stops blocking; handlers.py itself is unchanged (cached).
    store = (project.root / "pkg/store.py").read_text().replace("with open(path) as handle:", "with memoryview(path) as handle:")
    project.write("pkg/store.py", store)
    after = cli("--select", "ARV2", "--format", "json", project.root)
    assert arv202(after) == [] and after.json()["summary"]["cached"] == 4
    project.write("pkg/store.py", store.replace("memoryview(path)", "open(path)"))
    again = cli("--select", "ARV2", "--format", "json", project.root)
    assert len(arv202(again)) == 2 and again.json()["summary"]["cached"] == 5


def test_ignore_turns_the_chain_off(cli, project):
    write_package(project)
    result = cli("--select", "ARV2", "--ignore", "ARV202", "--format", "json", "--no-cache", project.root)
    assert arv202(result) == []


def test_extend_blocking_calls_from_pyproject(cli, project):
    project.write("pyproject.toml", PYPROJECT + 'extend-blocking-calls = {"vendor.fetch" = "vendor.afetch"}\n')
    project.write(
        "main.py",
        """
        import vendor


        async def main():
            return vendor.fetch()
        """,
    )
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", project.root)
    findings = result.json()["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("ARV201", 5)]
    assert "`vendor.afetch`" in findings[0]["message"]


def test_bad_option_is_a_config_error_not_a_traceback(cli, project):
    project.write("pyproject.toml", PYPROJECT + "extend-blocking-calls = [1, 2]\nblocking-max-depth = 0\n")
    project.write("main.py", "async def main():\n    pass\n")
    result = cli("--select", "ARV2", "--no-cache", project.root)
    assert result.code == 2
    assert "extend-blocking-calls" in result.err or "blocking-max-depth" in result.err
    assert "Traceback" not in result.err


def test_broken_file_does_not_stop_the_join(cli, project):
    project.write("pyproject.toml", PYPROJECT)
    project.write("broken.py", "def oops(:\n")
    project.write(
        "ok.py",
        """
        import time


        def nap():
            time.sleep(1)


        async def main():
            nap()
        """,
    )
    result = cli("--select", "ARV", "--format", "json", "--no-cache", project.root)
    codes = sorted((f["code"], f["path"].rsplit("/", 1)[-1]) for f in result.json()["findings"])
    assert ("ARV001", "broken.py") in codes and ("ARV202", "ok.py") in codes
    assert "Traceback" not in result.err


def test_severity_comes_from_the_table_entry():
    code = "import time, os\n\nasync def f(p):\n    time.sleep(1)\n    os.path.exists(p)\n"
    found = {f.line: f.severity.value for f in findings_for(code, RULES)}
    assert found == {4: "CRITICAL", 5: "WARNING"}


def test_every_table_group_has_flagged_and_clean_examples():
    """Each group of rules/blocking/calls.toml is exercised by a documented flagged example (a
    finding names one of its calls) and has a clean example that mentions the same API."""
    data = load_table("blocking", "calls")
    table = Table(data, {})
    docs = rule_docs("blocking")["ARV201"]
    hit = set()
    for example in docs.examples:
        if not example.flagged:
            continue
        options = dict(example.options)
        for finding in findings_for(example.code, RULES, **options):
            assert finding.code == "ARV201"
            callee = re.match(r"`([^`]+)\(\)`", finding.message).group(1)
            entry = table.lookup(callee)
            if entry is not None:
                hit.add(id(entry))
    flagged = [e for e in docs.examples if e.flagged]
    clean = [e for e in docs.examples if not e.flagged]
    for group in data["group"]:
        sample = next(iter(group.get("calls", ()) or group.get("types", ())))
        entry = table.lookup(sample) or table.lookup(f"{sample}.{group['methods'][0]}")
        assert id(entry) in hit, f"no flagged example for the group of {sample}"
    # The examples come in pairs: a flagged one and the clean way to write it.
    assert len(clean) == len(flagged) >= len(data["group"])


def test_relative_imports_two_levels_up_and_package_init(cli, project):
    project.write("pyproject.toml", PYPROJECT)
    project.write("pkg/__init__.py", "")
    project.write("pkg/io/__init__.py", "import subprocess\n\n\ndef run(cmd):\n    return subprocess.run(cmd)\n")
    project.write("pkg/jobs/__init__.py", "")
    project.write(
        "pkg/jobs/worker.py",
        """
        from ..io import run
        from .. import io as pkg_io


        async def job(cmd):
            run(cmd)
            pkg_io.run(cmd)
            return await other(cmd)


        async def other(cmd):
            return cmd
        """,
    )
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", project.root)
    found = [(f["line"], f["severity"]) for f in arv202(result)]
    assert found == [(6, "WARNING"), (7, "WARNING")], result.out  # CRITICAL subprocess, capped
    assert all("job() -> run() -> subprocess.run()" in f["message"] for f in arv202(result))


def _pure_names(data):
    pure = data["pure"]
    return [*pure["calls"], *(f"{kind}.{method}" for kind in pure["path-types"] for method in pure["path-methods"])]


def test_pure_path_functions_are_never_reported():
    """String work on paths is not I/O: no group lists it, and written in a coroutine (as a call
    on a module function, or on a receiver of every pathlib type) nothing is reported."""
    data = load_table("blocking", "calls")
    table = Table(data, {})
    names = _pure_names(data)
    assert "os.path.normpath" in names and "pathlib.Path.with_suffix" in names
    assert [name for name in names if table.lookup(name)] == []
    receivers = {kind: f"p{number}" for number, kind in enumerate(data["pure"]["path-types"])}
    lines = ["import os", "import pathlib", "", "", "async def paths(text: str, "
             + ", ".join(f"{name}: {kind}" for kind, name in receivers.items()) + "):"]
    for name in data["pure"]["calls"]:
        lines.append(f"    {name}(text)")
    for kind, receiver in receivers.items():
        lines.extend(f"    {receiver}.{method}()" for method in data["pure"]["path-methods"])
    lines.append(f"    {receivers['pathlib.Path']}.exists()  # the receivers are typed: this one is I/O")
    found = [(f.line, f.message.split("`")[1]) for f in findings_for("\n".join(lines) + "\n", RULES)]
    assert found == [(len(lines), "pathlib.Path.exists()")]


def test_table_is_a_superset_of_the_runtime_detectors():
    """Every call that Home Assistant's block_async_io or blockbuster patches (a snapshot of their
    source, tests/data/runtime-detectors.json) is in a group with a category, a severity and an
    alternative, unless the table lists it as pure; and every condition under which they let a
    call pass is taken or explained in [runtime-conditions]."""
    snapshot = json.loads((Path(__file__).parent / "data" / "runtime-detectors.json").read_text(encoding="utf-8"))
    data = load_table("blocking", "calls")
    table = Table(data, {})
    groups = {name: group for group in data["group"] for name in group.get("calls", ())}
    groups.update({f"{kind}.{method}": group for group in data["group"]
                   for kind in group.get("types", ()) for method in group.get("methods", ())})
    every_method = {kind: group for group in data["group"] if group.get("methods") == ["*"] for kind in group["types"]}
    pure = set(_pure_names(data))
    projects = {detector["project"]: detector for detector in snapshot["detectors"]}
    assert sorted(projects) == ["blockbuster", "homeassistant"]
    assert len(projects["homeassistant"]["calls"]) == 18 and len(projects["blockbuster"]["calls"]) == 58
    missing, unexplained = [], set()
    for detector in snapshot["detectors"]:
        for call in detector["calls"]:
            name = call["name"]
            if name in pure:
                assert table.lookup(name) is None
                continue
            group = groups.get(name) or every_method.get(name.rsplit(".", 1)[0])
            if group is None or table.lookup(name) is None:
                missing.append(f"{detector['project']}: {name}")
                continue
            assert {"category", "severity", "alternative"} <= set(group), name
            if call["condition"] and call["condition"] not in data["runtime-conditions"]:
                unexplained.add(call["condition"])
    assert missing == [] and unexplained == set()


def marked_lines(folder):
    """{(file, line): code} for every line of a fixture project ending in `# ARVnnn ...`."""
    marks = {}
    for path in sorted(folder.rglob("*.py")):
        for number, text in enumerate(path.read_text().splitlines(), 1):
            found = re.search(r"# (ARV\d{3})\b(?: (CRITICAL|WARNING|SUGGESTION)\b)?", text)
            if found:
                marks[(path.relative_to(folder).as_posix(), number)] = found.group(1, 2) if found.group(2) else found.group(1)
    return marks


def test_receivers_typed_by_another_modules_declarations(cli, tmp_path):
    """fixtures/blocking/typed_project: `config_dir().read_text()` with `config_dir() -> Path`
    in another module, a @contextmanager's `Iterator[Path]`, dataclass fields, `self.x: Path`,
    module constants, `dict[Path, float]` items, `/` and `.parent`: each marked line is ARV201."""
    folder = tmp_path / "typed_project"
    shutil.copytree(FIXTURES / "typed_project", folder)
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", folder)
    found = {(Path(f["path"]).relative_to(folder).as_posix(), f["line"]): f["code"]
             for f in result.json()["findings"] if f["severity"] != "SUGGESTION"}
    assert found == marked_lines(folder), result.out
    second = cli("--select", "ARV2", "--format", "json", folder)  # the cache fill, then from the cache
    third = cli("--select", "ARV2", "--format", "json", folder)
    assert second.json()["findings"] == third.json()["findings"] == result.json()["findings"]


def test_a_chain_into_a_guarded_helper_is_a_suggestion_unless_the_argument_passes(cli, tmp_path):
    """fixtures/blocking/guarded_project: `load_uri` opens only after `if not uri.startswith("data:"):
    raise`, `metadata` only `if isinstance(file, str)`; a literal or a known type decides, through
    helpers that pass their parameter on. The message quotes the check."""
    folder = tmp_path / "guarded_project"
    shutil.copytree(FIXTURES / "guarded_project", folder)
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", folder)
    findings = result.json()["findings"]
    found = {(Path(f["path"]).relative_to(folder).as_posix(), f["line"]): (f["code"], f["severity"]) for f in findings}
    assert found == marked_lines(folder), result.out
    quoted = {f["line"]: f["message"] for f in findings if f["severity"] == "SUGGESTION"}
    assert 'Only when `uri.startswith("data:")` holds in `load_uri`: the argument here is not known' in quoted[10]
    assert "`isinstance(file, str)` holds in `metadata`: the argument here does not pass it" in quoted[15]


def test_a_chain_ending_in_a_call_typed_by_another_module(cli, project):
    """The helper's blocking call is on a receiver another module types (`config_dir() -> Path`):
    the chain is finished by the join. (A whole-corpus run crashed here once.)"""
    project.write("pkg/__init__.py", "")
    project.write("pkg/paths.py", "from pathlib import Path\n\n\ndef config_dir() -> Path:\n    return Path('/etc/app')\n")
    project.write("pkg/store.py", "from pkg.paths import config_dir\n\n\ndef load():\n    return (config_dir() / 'a.toml').read_text()\n")
    project.write("pkg/app.py", "from pkg.store import load\n\n\nasync def handler():\n    return load()\n")
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", ".", cwd=project.root)
    assert result.code == 1, result.err
    found = [(f["path"], f["line"], f["code"]) for f in result.json()["findings"]]
    assert found == [("pkg/app.py", 5, "ARV202")], result.out
    assert "handler() -> load() -> pathlib.Path.read_text()" in result.json()["findings"][0]["message"]


def test_a_coroutine_that_polls_its_socket_is_not_blocking_across_modules(cli, project):
    """The socket's type comes from another module (decided by the join): a coroutine that catches
    BlockingIOError or waits for readiness makes attempts that return at once; one that does not,
    blocks."""
    project.write("pkg/__init__.py", "")
    project.write("pkg/conn.py", "import socket\n\n\ndef make() -> socket.socket:\n    return socket.socket()\n")
    project.write("pkg/app.py", """\
        from pkg.conn import make


        async def polls():
            sock = make()
            try:
                return sock.recv(1)
            except BlockingIOError:
                return b""


        async def waits(loop):
            sock = make()
            loop.add_reader(sock, print)
            return sock.recv(1)


        async def blocks():
            sock = make()
            return sock.recv(1)
        """)
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", ".", cwd=project.root)
    assert [(f["path"], f["line"]) for f in result.json()["findings"]] == [("pkg/app.py", 20)], result.out


def test_a_callable_the_coroutine_also_hands_to_a_thread_is_called_directly_on_purpose(cli, project):
    """starlette's UploadFile: write in place while the spooled file is in memory, through a
    thread once it is on disk. The same callable offloaded elsewhere in the coroutine makes the
    direct call a choice; a callable it never offloads is still reported."""
    project.write("upload.py", """\
        import asyncio
        from typing import BinaryIO


        class Upload:
            file: BinaryIO
            in_memory: bool

            async def write(self, data: bytes):
                if self.in_memory:
                    self.file.write(data)
                else:
                    await asyncio.to_thread(self.file.write, data)

            async def read(self):
                head = self.file.read(16)
                await asyncio.to_thread(self.file.write, head)
                return head
        """)
    result = cli("--select", "ARV2", "--format", "json", "--no-cache", ".", cwd=project.root)
    assert [(f["line"], f["message"].split("`")[1]) for f in result.json()["findings"]] == [(16, "typing.BinaryIO.read()")], result.out
