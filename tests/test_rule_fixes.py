"""Edge cases of the rule fixes of rules/compat (ARV101, ARV104) and rules/resources (ARV305),
ARV105 and ARV505: where a fix would be wrong, none is offered. Run through the real engine and
fixer (`fixed_text`); the documented before -> after examples run in tests/test_rule_examples.py."""

from asyncreview.checks.compat import VersionCompat
from asyncreview.testing import findings_for, fixed_text


def _unchanged(code, rules, target="3.9"):
    return fixed_text(code, rules, True, target) == code


def test_timeout_with_more_than_one_awaited_statement_or_a_bound_name_is_not_fixed():
    code = '''import asyncio

async def main(reader):
    async with asyncio.timeout(5):
        await reader.read(1)
        await reader.read(2)
    async with asyncio.timeout(5) as scope:
        await reader.read(3)
    async with asyncio.timeout(5):
        data = len(await reader.read(4))
    async with asyncio.timeout(5):
        data = await reader.read(await size())
'''
    assert [f.code for f in findings_for(code, [VersionCompat], "3.10")] == ["ARV101"] * 4
    assert _unchanged(code, [VersionCompat], "3.10")


def test_timeout_under_a_handler_of_the_builtin_timeout_error_is_not_fixed():
    code = '''import asyncio

async def main(reader):
    try:
        async with asyncio.timeout(5):
            await reader.read(1)
    except (ValueError, TimeoutError):
        pass
'''
    assert _unchanged(code, [VersionCompat], "3.10")
    caught_by_asyncio = code.replace("(ValueError, TimeoutError)", "asyncio.TimeoutError")
    assert "await asyncio.wait_for(reader.read(1), 5)" in fixed_text(caught_by_asyncio, [VersionCompat], True, "3.10")


def test_a_comment_on_the_timeout_line_is_kept_by_giving_no_fix():
    code = '''import asyncio

async def main(reader):
    async with asyncio.timeout(5):  # the peer is slow
        await reader.read(1)
'''
    assert _unchanged(code, [VersionCompat], "3.10")


def test_timeout_keyword_delay_and_an_aliased_import():
    code = '''import asyncio as aio

async def main(reader):
    async with aio.timeout(delay=2.5):
        return await reader.read(1)  # one read
'''
    assert fixed_text(code, [VersionCompat], True, "3.10") == '''import asyncio as aio

async def main(reader):
    return await aio.wait_for(reader.read(1), 2.5)  # one read
'''


def test_to_thread_not_awaited_at_once_is_not_fixed():
    code = '''import asyncio

async def main(path):
    pending = asyncio.to_thread(read, path)
    await asyncio.gather(asyncio.to_thread(read, path))
    return await pending
'''
    assert _unchanged(code, [VersionCompat], "3.8")


def test_removed_api_imported_by_name_and_unsafe_fixes_not_asked():
    from_import = '''from asyncio import Task

def names():
    return [task.get_name() for task in Task.all_tasks()]
'''
    fixed = fixed_text(from_import, [VersionCompat], True, "3.8")
    assert "import asyncio\nfrom asyncio import Task" in fixed and "in asyncio.all_tasks()]" in fixed
    assert fixed_text(from_import, [VersionCompat], False, "3.8") == from_import


def test_loop_keyword_dropped_first_middle_and_last():
    code = '''import asyncio

def make(loop):
    return asyncio.Queue(loop=loop, maxsize=2), asyncio.Lock(loop=loop), asyncio.Semaphore(3, loop=loop)
'''
    assert fixed_text(code, [VersionCompat], True, "3.8").splitlines()[-1] == (
        "    return asyncio.Queue(maxsize=2), asyncio.Lock(), asyncio.Semaphore(3)")


def test_dropped_tasks_in_one_pass_share_one_set_and_a_second_fix_changes_nothing():
    from asyncreview.checks.resources import Resources

    code = '''import asyncio

async def a():
    asyncio.create_task(job())

async def b():
    asyncio.ensure_future(job())
'''
    fixed = fixed_text(code, [Resources], True)
    assert fixed.count("_background_tasks: set[asyncio.Task] = set()") == 1
    assert fixed.count("_background_tasks.add(task)") == 2
    assert fixed_text(fixed, [Resources], True) == fixed
    assert findings_for(fixed, [Resources]) == []


def test_dropped_task_on_a_shared_line_or_with_the_set_name_taken_is_not_fixed():
    from asyncreview.checks.resources import Resources

    shared = '''import asyncio

async def a(ready):
    if ready: asyncio.create_task(job())
    log(); asyncio.create_task(job())
'''
    assert _unchanged(shared, [Resources])
    taken = '''import asyncio

_background_tasks = []
_running_background_tasks = {}

async def a():
    asyncio.create_task(job())
'''
    assert [f.code for f in findings_for(taken, [Resources])] == ["ARV305"]
    assert _unchanged(taken, [Resources])


def test_get_event_loop_then_run_is_fixed_only_in_the_exact_shape():
    from asyncreview.checks.loop_compat import ChangedBehaviour

    code = '''import asyncio

async def main():
    pass

def closed():
    loop = asyncio.get_event_loop()
    loop.run_until_complete(main())
    loop.close()

def not_a_coroutine():
    loop = asyncio.get_event_loop()
    loop.run_until_complete(asyncio.gather(main(), main()))

def commented():
    loop = asyncio.get_event_loop()  # the default loop
    loop.run_until_complete(main())

def apart():
    loop = asyncio.get_event_loop()
    ready = True
    loop.run_until_complete(main())
'''
    assert [f.code for f in findings_for(code, [ChangedBehaviour])] == ["ARV105"] * 4
    assert _unchanged(code, [ChangedBehaviour])


def test_asyncio_run_is_not_offered_below_3_7_and_the_import_alias_is_used():
    from asyncreview.checks.loop_compat import ChangedBehaviour

    code = '''import asyncio as aio

async def main():
    pass

aio.get_event_loop().run_until_complete(main())
'''
    assert fixed_text(code, [ChangedBehaviour], True, "3.9").endswith("\naio.run(main())\n")
    assert _unchanged(code, [ChangedBehaviour], "3.6")


def test_never_awaited_fix_in_a_coroutine_only_and_through_the_project_join(cli, tmp_path):
    """Another module's coroutine is found by the join, which carries the fix too: `await`
    before the call in a coroutine's bare statement, none in a sync method (`release`)."""
    import shutil
    from pathlib import Path

    folder = tmp_path / "awaited_project"
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "correctness" / "awaited_project", folder)
    main = folder / "app" / "main.py"
    before = main.read_text().splitlines()
    cli("--select", "ARV505", "--fix", "--no-cache", folder)
    after = main.read_text().splitlines()
    changed = {number for number, (old, new) in enumerate(zip(before, after), 1) if old != new}
    assert changed == {8, 9, 16, 19, 25, 36}
    assert all(after[n - 1].strip() == "await " + before[n - 1].strip() for n in changed)
    again = cli("--select", "ARV505", "--format", "json", "--no-cache", folder)
    assert [(f["line"], f.get("fix")) for f in again.json()["findings"]] == [(31, None)]


def test_never_awaited_bound_to_an_unread_name_gets_no_fix():
    from asyncreview.checks.awaited import NeverAwaited

    code = '''import asyncio

async def main():
    pending = asyncio.sleep(1)
    (asyncio.sleep(2))
'''
    assert [f.code for f in findings_for(code, [NeverAwaited])] == ["ARV505", "ARV505"]
    fixed = fixed_text(code, [NeverAwaited], False)
    assert fixed == code.replace("(asyncio.sleep(2))", "(await asyncio.sleep(2))")


def test_the_task_set_is_annotated_only_with_asyncio_imported_above_it_and_a_new_enough_target():
    from asyncreview.checks.resources import Resources

    imported_in_function = '''import logging

def start():
    import asyncio
    asyncio.create_task(job())
'''
    assert "\n_background_tasks = set()\n" in fixed_text(imported_in_function, [Resources], True)
    aliased = '''import asyncio as aio

async def start():
    aio.create_task(job())
'''
    assert "\n_background_tasks: set[aio.Task] = set()\n" in fixed_text(aliased, [Resources], True, "3.9")
    assert "\n_background_tasks = set()\n" in fixed_text(aliased, [Resources], True, "3.8")


def test_an_unclosed_client_gets_async_with_only_when_nothing_outlives_the_block():
    from asyncreview.checks.resources import Resources

    code = '''import aiohttp
import httpx

async def before_assignment(url):
    client = None
    client = httpx.AsyncClient()
    await client.get(url)

async def outside_the_block(url, ready):
    if ready:
        client = httpx.AsyncClient()
        await client.get(url)
    await client.get(url)

async def handed_out(url):
    session = aiohttp.ClientSession()
    response = await session.get(url)
    body = response.content
    return body

async def closed_late(url):
    client = httpx.AsyncClient()
    await client.get(url)
    await client.aclose()

def sync_code(url):
    client = httpx.Client()
    client.get(url)
'''
    assert len([f for f in findings_for(code, [Resources]) if f.code == "ARV301"]) == 5
    assert _unchanged(code, [Resources])


def test_an_unclosed_client_with_an_else_an_awaited_result_returned_or_a_one_line_body():
    from asyncreview.checks.resources import Resources

    code = '''import httpx

async def fetch(url):
    client = httpx.AsyncClient()
    response = await client.get(url)
    return await response.aread()

async def retry(urls):
    client = httpx.AsyncClient()
    for url in urls:
        await client.get(url)
    else:
        pass  # all sent

async def once(urls):
    client = httpx.AsyncClient()
    if urls: await client.get(urls[0])
'''
    fixed = fixed_text(code, [Resources], True)
    assert "    async with httpx.AsyncClient() as client:\n        response = await client.get(url)\n        return await response.aread()\n" in fixed
    assert ("    async with httpx.AsyncClient() as client:\n        for url in urls:\n            await client.get(url)\n"
            "        else:\n            pass  # all sent\n") in fixed
    assert "    client = httpx.AsyncClient()\n    if urls: await client.get(urls[0])\n" in fixed


def test_to_thread_over_several_lines_closes_the_partial_on_its_last_argument():
    code = '''import asyncio

async def main(lock, t):
    return await asyncio.to_thread(
        lock.acquire,
        timeout=t,  # bounded
    )
'''
    assert fixed_text(code, [VersionCompat], True, "3.8").endswith(
        "run_in_executor(None, functools.partial(contextvars.copy_context().run, lock.acquire,\n        timeout=t,  # bounded\n    ))\n")
    uncommented = code.replace("  # bounded", "")
    assert fixed_text(uncommented, [VersionCompat], True, "3.8").endswith(
        "run_in_executor(None, functools.partial(contextvars.copy_context().run, lock.acquire,\n        timeout=t))\n")


def test_the_with_ends_after_the_last_statement_using_the_resource_comments_kept():
    from asyncreview.checks.resources import Resources

    code = '''import socket

async def probe(host, port, log):
    sock = socket.socket()
    try:
        sock.connect((host, port))
    except OSError:
        return False  # unreachable
    log("reachable")
    return True
'''
    assert fixed_text(code, [Resources], True) == '''import socket

async def probe(host, port, log):
    with socket.socket() as sock:
        try:
            sock.connect((host, port))
        except OSError:
            return False  # unreachable
    log("reachable")
    return True
'''


def test_a_client_opened_and_never_used_is_reported_and_gets_no_fix():
    """Its block goes on without mentioning it: no statement for a `with` to hold (this crashed
    the resources rule, losing its findings, before)."""
    from asyncreview.checks.resources import Resources

    code = '''import httpx

async def unused(url):
    client = httpx.AsyncClient()
    print(url)

async def opened():
    pass
    f0 = open("x0")
    f1 = open("x1")
'''
    found = findings_for(code, [Resources])
    assert {(f.line, f.code) for f in found} >= {(4, "ARV301"), (9, "ARV301"), (10, "ARV301")}
    assert not any(f.code == "ARV003" for f in found)
    assert _unchanged(code, [Resources])
