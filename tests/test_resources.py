"""ARV3xx beyond the documented examples: every constructor and lock in the tables, config
extensions through the real CLI, messages that show the matching fix, suppressions, and odd input."""

import textwrap
from pathlib import Path

import pytest

from asyncreview.catalogue import load_table
from asyncreview.checks.resources import RULES, _entry
from asyncreview.testing import findings_for

CONSTRUCTORS = load_table("resources", "constructors")["constructors"]
LOCKS = load_table("resources", "locks")["locks"]


def _call(name):
    """Import and call spelling that reaches `name` through the import table."""
    if "." not in name:
        return "", f"{name}(target)"
    return f"import {name.split('.')[0]}\n", f"{name}(target)"


def codes(source, **options):
    return sorted((f.line, f.code) for f in findings_for(textwrap.dedent(source), RULES, **options))


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_every_constructor_is_flagged_when_closed_outside_finally(name):
    entry = _entry(name, CONSTRUCTORS[name])
    imports, call = _call(name)
    awaiting = "await " if entry["async"] else ""
    source = (
        f"{imports}async def work(target):\n"
        f"    res = {call}\n"
        f"    await res.use()\n"
        f"    {awaiting}res.{entry['close']}()\n"
    )
    line = source.splitlines().index(f"    res = {call}") + 1
    assert codes(source) == [(line, "ARV301")]


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_every_constructor_is_clean_when_every_close_method_runs_in_finally(name):
    entry = _entry(name, CONSTRUCTORS[name])
    imports, call = _call(name)
    awaiting = "await " if entry["async"] else ""
    for close in entry["closes"]:
        source = (
            f"{imports}async def work(target):\n"
            f"    res = {call}\n"
            f"    try:\n"
            f"        await res.use()\n"
            f"    finally:\n"
            f"        {awaiting}res.{close}()\n"
        )
        assert codes(source) == [], source


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_every_constructor_message_names_the_leak_and_the_fix(name):
    entry = _entry(name, CONSTRUCTORS[name])
    imports, call = _call(name)
    source = f"{imports}def work(target):\n    res = {call}\n    return res.read()\n"
    [finding] = findings_for(source, RULES)
    assert entry["leaks"] in finding.message
    if entry["with"] == "try/finally":
        assert f"finally: {'await ' if entry['async'] else ''}res.{entry['close']}()" in finding.message
    elif "(...)" in entry["with"]:
        assert f"{entry['with'].split('(')[0]}({name}(...)) as res:" in finding.message
    else:
        assert f"`{entry['with']} {name}(...) as res:`" in finding.message


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_lock_type_needs_a_finally(name):
    imports, call = _call(name)
    call = call.replace("(target)", "()")
    flagged = f"{imports}async def work(job):\n    guard = {call}\n    await guard.acquire()\n    await job()\n    guard.release()\n"
    clean = f"{imports}async def work(job):\n    guard = {call}\n    await guard.acquire()\n    try:\n        await job()\n    finally:\n        guard.release()\n"
    line = flagged.splitlines().index("    await guard.acquire()") + 1
    assert codes(flagged) == [(line, "ARV302")]
    assert codes(clean) == []


def test_typed_receiver_that_is_not_a_lock_is_left_alone():
    source = """
    import asyncpg

    async def get(pool: asyncpg.Pool):
        await pool.acquire()
        mylock = asyncpg.Pool()
        await mylock.acquire()
    """
    assert codes(source) == []


def test_class_protocol_suggestion_matches_the_close():
    source = """
    import httpx

    class Async:
        def __init__(self):
            self.http = httpx.AsyncClient()

        async def aclose(self):
            await self.http.aclose()

    class Sync:
        def __init__(self):
            self.http = httpx.Client()

        def close(self):
            self.http.close()
    """
    found = {f.line: f.message for f in findings_for(textwrap.dedent(source), RULES)}
    assert sorted(found) == [4, 11]
    assert "async def __aenter__(self): return self" in found[4]
    assert "await self.aclose()" in found[4]
    assert "def __enter__(self): return self" in found[11] and "__aenter__" not in found[11]


def test_same_file_base_with_protocol_satisfies_subclass_and_external_base_is_trusted():
    source = """
    import aiohttp
    from elsewhere import Base

    class Root:
        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            await self.close()

    class Child(Root):
        def __init__(self):
            self.s = aiohttp.ClientSession()

        async def close(self):
            await self.s.close()

    class Other(Base):
        def __init__(self):
            self.s = aiohttp.ClientSession()

        async def close(self):
            await self.s.close()
    """
    assert codes(source) == []


def test_unknown_import_is_not_a_resource():
    assert codes("def f(p):\n    h = mylib.open(p)\n    return h.read()\n") == []
    # a local function named `open` shadows the builtin
    assert codes("def open(p):\n    return p\n\ndef f(p):\n    h = open(p)\n    return h.read()\n") == []


@pytest.mark.parametrize(
    "source",
    [
        "x = open\n",
        "def f():\n    open()()\n",
        "def f():\n    a, b = open(1), open(2)\n    *c, = [open(3)]\n",
        "async def f():\n    (await aiohttp.ClientSession()).get\n",
        "def f():\n    global g\n    g = open(1)\n",
        "class A:\n    f = open('x')\n    def g(self):\n        self.x = open(1)\n    close = None\n",
        "def f():\n    lock.acquire\n    lock.acquire()()\n    (a or b).acquire()\n",
        "def f():\n    asyncio.create_task\n    asyncio.create_task()\n",
        "lambda: open(1).read()\n",
    ],
)
def test_odd_code_never_crashes_the_rule(source):
    for finding in findings_for(source, RULES):
        assert finding.code.startswith("ARV3"), finding.message


def test_prefilter_skips_files_without_any_relevant_name():
    broken = "def f(:\n    pass\n"
    assert findings_for(broken, RULES) == []
    assert [f.code for f in findings_for(broken + "open\n", RULES)] == ["ARV001"]


def test_config_extends_constructors_and_locks_through_the_cli(cli, project):
    project.write(
        "pyproject.toml",
        """
        [tool.asyncreview]
        select = ["ARV3"]
        extend-resource-constructors = {"mylib.Pool" = "aclose", "mylib.Conn" = {close = "shutdown", leaks = "a socket to the broker"}}
        extend-lock-types = ["mylib.Mutex"]
        """,
    )
    project.write(
        "app.py",
        """
        import mylib

        async def run(query):
            pool = mylib.Pool()
            return await pool.run(query)

        def send(payload):
            conn = mylib.Conn()
            conn.send(payload)

        def guarded(work):
            guard = mylib.Mutex()
            guard.acquire()
            work()
            guard.release()
        """,
    )
    result = cli("--format", "json", "--no-cache", project.root / "app.py", cwd=project.root)
    assert result.code == 1, result.err
    found = sorted((f["line"], f["code"]) for f in result.json()["findings"])
    assert found == [(4, "ARV301"), (8, "ARV301"), (13, "ARV302")]
    messages = {f["line"]: f["message"] for f in result.json()["findings"]}
    assert "`async with mylib.Pool(...) as pool:`" in messages[4]
    assert "a socket to the broker" in messages[8] and "`with mylib.Conn(...) as conn:`" in messages[8]


@pytest.mark.parametrize(
    "value, fragment",
    [
        ('["mylib.Pool"]', "expected a table"),
        ('{"mylib.Pool" = "not a name"}', "close method name"),
        ('{"mylib.Pool" = {close = "close", async = "yes"}}', "true or false"),
    ],
)
def test_bad_constructor_config_is_a_usage_error(cli, project, value, fragment):
    project.write("pyproject.toml", f"[tool.asyncreview]\nextend-resource-constructors = {value}\n")
    project.write("app.py", "x = 1\n")
    result = cli(project.root, cwd=project.root)
    assert result.code == 2
    assert "extend-resource-constructors" in result.err and fragment in result.err
    assert "Traceback" not in result.err


def test_noqa_on_the_assignment_line_suppresses_the_finding(cli, project):
    project.write(
        "app.py",
        """
        import aiohttp

        async def a(url):
            session = aiohttp.ClientSession()  # noqa: ARV301
            return await session.get(url)

        async def b(url):
            session = aiohttp.ClientSession()
            return await session.get(url)
        """,
    )
    result = cli("--select", "ARV3", "--format", "json", "--no-cache", project.root, cwd=project.root)
    assert [(f["line"], f["code"]) for f in result.json()["findings"]] == [(8, "ARV301")]


def test_project_code_is_clean(cli):
    repo = Path(__file__).resolve().parent.parent
    result = cli("--select", "ARV3", "--no-cache", repo / "asyncreview", cwd=repo)
    assert result.code == 0, result.out


LOOPS = load_table("resources", "locks")["loops"]
HANDOVERS = load_table("resources", "locks")["handovers"]


@pytest.mark.parametrize("factory", sorted(LOOPS["factories"]))
def test_a_loop_factory_from_any_module_is_a_loop(factory):
    source = f"""
    from . import helpers

    def schedule(job):
        helpers.{factory}().create_task(job())
        current = helpers.{factory}()
        current.create_task(job())
        kept = current.create_task(job())
        return kept
    """
    found = findings_for(textwrap.dedent(source), RULES)
    assert [(f.line, f.code) for f in found] == [(5, "ARV305"), (7, "ARV305")]
    assert f"`helpers.{factory}().create_task(...)`" in found[0].message


@pytest.mark.parametrize("receiver", ["loop", "self.loop", "self._loop", "client.loop", "self.hass.loop", "event_loop", "ioloop"])
def test_a_receiver_named_like_a_loop_is_a_loop_and_other_receivers_are_not(receiver):
    header = "def schedule(self, client, loop, event_loop, ioloop, group, job):\n"
    assert codes(f"{header}    {receiver}.create_task(job())\n") == [(2, "ARV305")]
    group = receiver.replace("ioloop", "group").replace("loop", "group")
    assert codes(f"{header}    {group}.create_task(job())\n") == []


def test_an_annotated_loop_parameter_is_a_loop_under_any_name_and_a_known_non_loop_local_is_not():
    source = """
    import asyncio
    from typing import Optional
    from scheduling import Scheduler

    def start(job, ev: asyncio.AbstractEventLoop, maybe: Optional[asyncio.AbstractEventLoop], named: "asyncio.AbstractEventLoop", tg: asyncio.TaskGroup):
        ev.create_task(job())
        maybe.create_task(job())
        named.create_task(job())
        tg.create_task(job())
        loop = Scheduler()
        loop.create_task(job())
        maybe = Scheduler()
        maybe.create_task(job())
    """
    assert codes(source) == [(7, "ARV305"), (8, "ARV305"), (9, "ARV305")]


def test_a_file_that_only_starts_tasks_on_a_loop_attribute_is_not_skipped_by_the_prefilter():
    # no `asyncio` anywhere: only the loop's own spelling admits the file
    source = "class Event:\n    def deliver(self, client):\n        client.loop.create_task(self.answer())\n"
    assert codes(source) == [(3, "ARV305")]


@pytest.mark.parametrize("handover", sorted(HANDOVERS["names"]))
def test_a_lock_handed_to_a_function_that_releases_it_is_clean_and_to_one_that_does_not_is_flagged(handover):
    template = """
    import threading

    GATE = threading.Lock()

    def deliver(item):
        try:
            item.send()
        finally:
            {release}

    def dispatch(runner, item):
        GATE.acquire()
        runner.{handover}(deliver, item)
        runner.{handover}(target=deliver)
    """
    clean = textwrap.dedent(template.format(release="GATE.release()", handover=handover))
    flagged = textwrap.dedent(template.format(release="print(item)", handover=handover))
    assert codes(clean) == []
    assert codes(flagged) == [(13, "ARV302")]


@pytest.mark.parametrize("wrapped", ["functools.partial(self._work, job)", "self._work(job)", "self._work"])
def test_a_lock_handed_to_a_method_through_a_wrapper_or_a_call_is_clean(wrapped):
    source = f"""
    import asyncio
    import functools

    WRITE_LOCK = asyncio.Lock()

    class Worker:
        async def _work(self, job):
            try:
                await job()
            finally:
                WRITE_LOCK.release()

        async def submit(self, loop, job):
            await WRITE_LOCK.acquire()
            loop.call_soon({wrapped})
    """
    assert codes(source) == []
    assert codes(source.replace("WRITE_LOCK.release()", "job.cancel()")) == [(15, "ARV302")]


@pytest.mark.parametrize("protocol", [("__aenter__", "__aexit__", "async "), ("__enter__", "__exit__", "")])
def test_the_protocol_pairs_acquire_with_the_same_attribute_released_in_the_exit_method(protocol):
    enter, exit_, is_async = protocol
    awaiting = "await " if is_async else ""
    source = f"""
    import threading

    class Guard:
        def __init__(self):
            self._lock = threading.Lock()
            self._other_lock = threading.Lock()

        {is_async}def {enter}(self):
            {awaiting}self._lock.acquire()
            return self

        {is_async}def {exit_}(self, *exc):
            self._finish()

        def _finish(self):
            self._lock.release()
    """
    assert codes(source) == []
    wrong_attribute = source.replace("            self._lock.release()", "            self._other_lock.release()")
    [finding] = findings_for(textwrap.dedent(wrong_attribute), RULES)
    assert (finding.line, finding.code) == (10, "ARV302")
    assert f"never released by `{exit_}`" in finding.message and "`self._lock`" in finding.message


def test_what_can_fail_in_aenter_after_the_acquire_is_named():
    source = """
    import asyncio

    class Connection:
        def __init__(self):
            self._lock = asyncio.Lock()

        async def __aenter__(self):
            await self._lock.acquire()
            self.conn = await self._open(
                timeout=5,
            )
            return self

        async def __aexit__(self, *exc):
            self._lock.release()
    """
    [finding] = findings_for(textwrap.dedent(source), RULES)
    assert (finding.line, finding.code) == (9, "ARV302")
    assert "`self.conn = await self._open(`" in finding.message
    assert "except BaseException: self._lock.release(); raise" in finding.message


def test_noqa_on_an_acquire_judged_with_its_class_suppresses_it(cli, project):
    source = """
        import asyncio

        class Held:
            def __init__(self):
                self._lock = asyncio.Lock()

            async def __aenter__(self):
                await self._lock.acquire()  # noqa: ARV302
                return self

            async def __aexit__(self, *exc):
                pass

            def unlock(self):
                self._lock.release()
        """
    project.write("suppressed.py", source)
    project.write("reported.py", source.replace("  # noqa: ARV302", ""))
    result = cli("--select", "ARV3", "--format", "json", "--no-cache", project.root, cwd=project.root)
    found = [(Path(f["path"]).name, f["line"], f["code"]) for f in result.json()["findings"]]
    assert found == [("reported.py", 8, "ARV302")]
