"""Peers' suppressions count (rules/common/peers.toml): a `# noqa` naming the flake8-async or ruff
code of the same finding hides the asyncreview finding, through the CLI and the flake8 door, and
only for the finding kinds that code really means. The table is checked against what the real
flake8-async and ruff report on the same lines."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from asyncreview import plugins
from asyncreview.catalogue import load_table
from asyncreview.peers import peer_codes
from asyncreview.testing import findings_for

ANNOTATED = '''
import asyncio
import os
import subprocess
import time


async def main(path, cmd):
    time.sleep(1)  # noqa: ASYNC251
    time.sleep(2)  # noqa: ASYNC230
    with open(path) as handle:  # noqa: ASYNC230
        handle.read()  # noqa: ASYNC251
    subprocess.run(cmd)  # noqa: ASYNC2
    subprocess.run(cmd)  # noqa: ASYNC220
    os.path.exists(path)  # noqa: ASYNC240
    os.getcwd()  # noqa: ASYNC240
    asyncio.create_task(main(path, cmd))  # noqa: RUF006
    asyncio.create_task(main(path, cmd))  # noqa: ASYNC300
    asyncio.create_task(main(path, cmd))  # noqa: ASYNC251
    log = open(path, "a")  # noqa: ASYNC230, SIM115
    log.write("done")  # noqa: ASYNC232
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:  # noqa: ASYNC103
        pass
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:  # noqa: ASYNC251
        pass
'''
# (line, code) left after the peers' codes: each a code on a line whose noqa names another kind.
KEPT = [(9, "ARV201"), (11, "ARV201"), (13, "ARV201"), (15, "ARV201"), (18, "ARV305"), (27, "ARV501")]


def test_peer_codes_suppress_the_matching_findings_only(cli, project):
    app = project.write("app.py", ANNOTATED)
    result = cli("--format", "json", "--target-version", "3.9", app)
    report = result.json()
    assert sorted((f["line"], f["code"]) for f in report["findings"]) == KEPT
    # sleep, open, the ASYNC2 prefix, ASYNC240, two dropped tasks, open (ARV201 and ARV301), write,
    # the swallowed cancellation
    assert report["summary"]["suppressed"] == 10
    # Without the peers' comments every one of them is reported.
    bare = project.write("bare.py", "\n".join(line.split("  # noqa")[0] for line in ANNOTATED.splitlines()))
    unsuppressed = cli("--format", "json", "--target-version", "3.9", bare).json()
    assert len(unsuppressed["findings"]) == len(KEPT) + 10


def test_the_flake8_door_honours_peer_codes_too(project):
    app = project.write("app.py", ANNOTATED)
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "ARV", "--asyncreview-target-version", "3.9", "app.py"],
        cwd=app.parent, capture_output=True, text=True,
    )
    found = sorted((int(line.split(":")[1]), line.split()[1]) for line in completed.stdout.splitlines())
    assert found == KEPT, completed.stdout + completed.stderr


# One line per kind a peer reports; the table must map each peer code to our finding there.
SAMPLE = '''
import asyncio
import codecs
import gzip
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import requests


async def sample(path, cmd, fd, url):
    time.sleep(1)
    input()
    requests.get(url)
    httpx.post(url)
    urllib.request.urlopen(url)
    with httpx.Client() as client:
        client.get(url)
    subprocess.run(cmd)
    subprocess.check_output(cmd)
    process = subprocess.Popen(cmd)
    os.system(cmd)
    os.popen(cmd).close()
    os.posix_spawn(cmd, [cmd], {})
    os.spawnl(os.P_WAIT, cmd)
    os.spawnl(os.P_NOWAIT, cmd)
    os.waitpid(process.pid, 0)
    handle = open(path)
    handle.readline()
    with open(path) as stream:
        stream.read()
    wrapped = os.fdopen(fd)
    wrapped.close()
    os.path.exists(path)
    os.path.getsize(path)
    os.path.realpath(path)
    Path(path).read_text()
    Path(path).exists()
    log = codecs.open(path)
    zipped = gzip.open(path)
    scratch = tempfile.TemporaryFile()
    asyncio.create_task(sample(path, cmd, fd, url))
    asyncio.ensure_future(sample(path, cmd, fd, url))
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print(path)
    return log.read(), zipped.read(), scratch.read()


async def structured(path, cmd):
    async with asyncio.timeout(1):
        print(path)


async def ticks(path):
    async with asyncio.timeout(1):
        yield path
    with open(path) as handle:
        yield handle
    try:
        await asyncio.sleep(1)
    except BaseException:
        try:
            await asyncio.sleep(1)
        finally:
            return
'''


def _peer_reports(folder: Path) -> set:
    """(line, code) that the real flake8-async and ruff report in sample.py."""
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "ASYNC100,ASYNC101,ASYNC103,ASYNC104,ASYNC119,ASYNC2,ASYNC300", "--format", "%(row)d %(code)s", "sample.py"],
        cwd=folder, capture_output=True, text=True,
    )
    ruff = subprocess.run(
        [str(Path(sys.executable).with_name("ruff")), "check", "--isolated", "--no-cache", "--preview",
         "--select", "ASYNC2,RUF006,SIM115", "--output-format", "json", "sample.py"],
        cwd=folder, capture_output=True, text=True,
    )
    found = {(int(row), code) for row, code in (line.split() for line in flake8.stdout.splitlines())}
    found |= {(item["location"]["row"], item["code"]) for item in json.loads(ruff.stdout)}
    return found


def test_the_table_agrees_with_what_flake8_async_and_ruff_report(tmp_path):
    text = textwrap.dedent(SAMPLE).lstrip("\n")
    (tmp_path / "sample.py").write_text(text, encoding="utf-8")
    theirs = _peer_reports(tmp_path)
    table = load_table("common", "peers")["peer"]
    means = {code: peer["suppresses"] for peer in table for code in peer["codes"]}
    ours = {}
    for finding in findings_for(text, plugins.all_rules()):
        ours.setdefault((finding.line, finding.code), set()).update(peer_codes(finding.code, finding.kind))
    # Where both report the same finding (their code's rule on the same line), our finding's kind
    # must map to their code: a project's `# noqa: <their code>` there hides ours.
    checked = {(line, code) for line, code in theirs if (line, means[code]) in ours}
    unmatched = sorted((line, code) for line, code in checked if code not in ours[line, means[code]])
    lines = text.splitlines()
    assert unmatched == [], "\n".join(f"{line}: {code}  {lines[line - 1].strip()}" for line, code in unmatched)
    # Not vacuous: every peer code of the table was met on a line where we report too.
    assert {code for _, code in checked} == set(means) - {"ASYNC211"}, sorted(theirs)
