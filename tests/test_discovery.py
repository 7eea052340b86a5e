"""Discovery and configuration under hostile input, through the real CLI: a bad pattern is one
config error naming its file and line (exit 2) or, in a .gitignore, a skipped line with a warning;
sizes are bounded; FIFOs, sockets and devices get ARV002 and are never opened."""

import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from asyncreview import discovery

GOOD = "import asyncio\n\n\nasync def main():\n    async with asyncio.timeout(1):\n        await asyncio.sleep(0)\n"
RUN = ("--format", "json", "--no-cache", "--target-version", "3.10", ".")


def _codes_by_path(result):
    by_path = {}
    for finding in result.json()["findings"]:
        by_path.setdefault(finding["path"], []).append((finding["code"], finding["message"]))
    return by_path


def _config_error(result):
    assert result.code == 2 and "Traceback" not in result.err, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_bad_patterns_in_config_name_the_file_and_line(cli, project):
    project.write("good.py", GOOD)
    cases = {
        '[tool.asyncreview]\nexclude = ["!"]\n': (2, "'exclude'", "pattern '!' negates nothing"),
        '[tool.asyncreview]\nselect = ["ARV"]\nextend-exclude = [\n  "build",\n  "gen\\\\",\n]\n':
            (5, "'extend-exclude'", "pattern 'gen\\\\' ends with a lone backslash"),
        '[tool.asyncreview]\nper-file-ignores = { "tests/*" = ["ARV1"], "!" = ["ARV2"] }\n':
            (2, "'per-file-ignores'", "pattern '!' negates nothing"),
        '[tool.asyncreview]\nfail-on = "warning"\n\n[tool.asyncreview.per-file-ignores]\n"ok/*" = ["ARV1"]\n"[ab" = ["ARV1"]\n':
            (6, "'per-file-ignores'", "pattern '[ab' has a [ that is never closed"),
    }
    for text, (line, key, problem) in cases.items():
        project.write("pyproject.toml", text)
        error = _config_error(cli(*RUN, cwd=project.root))
        assert f"pyproject.toml:{line}: bad value for {key}" in error and problem in error, (text, error)


def test_bad_lines_in_gitignore_are_skipped_with_a_warning_and_the_rest_applies(cli, project):
    project.write("good.py", GOOD)
    project.write("skipped.py", GOOD)
    project.write("sub/kept.py", GOOD)
    project.write("sub/gone.py", GOOD)
    project.write(".gitignore", "!\nskipped.py\n\\\n")
    project.write("sub/.gitignore", "[oops\ngone.py\n")
    result = cli(*RUN, cwd=project.root)
    assert result.code == 1 and "Traceback" not in result.err, result.err
    assert sorted(_codes_by_path(result)) == ["good.py", "sub/kept.py"]
    assert result.err.splitlines() == [
        "asyncreview: .gitignore:1: pattern '!' ignored: it negates nothing",
        "asyncreview: .gitignore:3: pattern '\\\\' ignored: it ends with a lone backslash",
        "asyncreview: sub/.gitignore:1: pattern '[oops' ignored: it has a [ that is never closed",
    ]


def test_fifos_named_gitignore_or_pyproject_do_not_hang_the_run(cli, project, tmp_path):
    project.write("good.py", GOOD)
    os.mkfifo(project.root / ".gitignore")
    (project.root / "sub").mkdir()
    os.mkfifo(project.root / "sub" / "pyproject.toml")
    project.write("sub/inner.py", GOOD)
    result = cli(*RUN, cwd=project.root)
    assert result.code == 1 and "Traceback" not in result.err, result.err
    assert sorted(_codes_by_path(result)) == ["good.py", "sub/inner.py"]
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    error = _config_error(cli("--config", fifo, ".", cwd=project.root))
    assert str(fifo) in error, error


def test_config_shapes_tomllib_accepts_but_we_cannot_use(cli, project):
    project.write("good.py", GOOD)
    for text, problem in {
        'project = 3\n[tool.asyncreview]\ntarget-version = "3.10"\n': None,
        '[project]\nname = "x"\n[tool]\nasyncreview = 3\n': "pyproject.toml: [tool.asyncreview] must be a table",
        b'[tool.asyncreview]\nexclude = ["\xff"]\n': "pyproject.toml: invalid TOML",
    }.items():
        project.write("pyproject.toml", text)
        result = cli(*RUN, cwd=project.root)
        if problem is None:
            assert result.code == 1 and "Traceback" not in result.err and list(_codes_by_path(result)) == ["good.py"], result.err
        else:
            assert problem in _config_error(result)


def test_a_folder_named_inside_an_ignored_one_is_not_walked_and_says_so(cli, project):
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    project.write(".gitignore", "build/\n")
    project.write("build/gen/out.py", GOOD)
    project.write("good.py", GOOD)
    result = cli(*RUN[:-1], "build/gen", "good.py", cwd=project.root)
    assert result.code == 1 and list(_codes_by_path(result)) == ["good.py"], result.err
    assert result.err.splitlines() == [
        "asyncreview: build/gen: in a folder .gitignore ignores: nothing checked there (--no-respect-gitignore checks it)"
    ]
    result = cli(*RUN[:-1], "--no-respect-gitignore", "build/gen", cwd=project.root)
    assert list(_codes_by_path(result)) == ["build/gen/out.py"]


def test_max_file_size_is_bounded(cli, project):
    project.write("good.py", GOOD)
    for huge in ("9223372036854775807", "1073741825", "9" * 5000):
        result = cli("--max-file-size", huge, ".", cwd=project.root)
        assert result.code == 2 and "--max-file-size" in result.err and "Traceback" not in result.err, result.err
        project.write("pyproject.toml", f"[tool.asyncreview]\ntarget-version = \"3.10\"\nmax-file-size = {huge}\n")
        error = _config_error(cli(".", cwd=project.root))
        if len(huge) > 4300:  # more digits than Python reads in an integer: tomllib gives up
            assert "pyproject.toml: invalid TOML: Exceeds the limit" in error, error
        else:
            assert "pyproject.toml:3: bad value for 'max-file-size'" in error and "1073741824" in error, error
    project.write("pyproject.toml", "[tool.asyncreview]\ntarget-version = \"3.10\"\nmax-file-size = 1073741824\n")
    result = cli("--format", "json", "--no-cache", ".", cwd=project.root)
    assert result.code == 1 and [code for code, _ in _codes_by_path(result)["good.py"]] == ["ARV101"]
    result = cli("--format", "json", "--no-cache", "--max-file-size", "1073741824", ".", cwd=project.root)
    assert result.code == 1 and list(_codes_by_path(result)) == ["good.py"]


def test_fifos_sockets_and_devices_found_by_walking_get_arv002(cli, project):
    project.write("good.py", GOOD)
    os.mkfifo(project.root / "pipe.py")
    (project.root / "pkg").mkdir()
    os.mkfifo(project.root / "pkg" / "ignored_pipe.py")
    project.write(".gitignore", "ignored_pipe.py\n")
    (project.root / "null.py").symlink_to(os.devnull)
    (project.root / "fifo_link.py").symlink_to(project.root / "pipe.py")
    (project.root / "lock.py").symlink_to("nobody@nowhere.1234")  # a broken link, as an editor's lock file
    (project.root / "not_a_package.py").symlink_to(project.root / "pkg")
    (project.root / "notes.txt").symlink_to(os.devnull)  # not a Python name: not looked at
    with socket.socket(socket.AF_UNIX) as listener:
        cwd = os.getcwd()
        os.chdir(project.root)  # a short relative address: socket paths are limited to ~100 bytes
        try:
            listener.bind("sock.pyi")
        finally:
            os.chdir(cwd)
        result = cli(*RUN, cwd=project.root)
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert _codes_by_path(result) == {
        "fifo_link.py": [("ARV002", "not a regular file: a FIFO")],
        "good.py": [("ARV101", _codes_by_path(result)["good.py"][0][1])],
        "null.py": [("ARV002", "not a regular file: a character device")],
        "pipe.py": [("ARV002", "not a regular file: a FIFO")],
        "sock.pyi": [("ARV002", "not a regular file: a socket")],
    }
    # Named on the command line, a FIFO is reported the same way, not listed as a folder.
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", "pipe.py", cwd=project.root)
    assert _codes_by_path(result) == {"pipe.py": [("ARV002", "not a regular file: a FIFO")]}
    # ... and an excluded one, with --force-exclude, not at all.
    project.write("pyproject.toml", '[tool.asyncreview]\nexclude = ["pipe.py"]\n')
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", "--force-exclude", "pipe.py", "good.py", cwd=project.root)
    assert list(_codes_by_path(result)) == ["good.py"]


def test_the_issues_adversarial_gitignore_line(cli, project):
    """`*a*...*a*b` against a long name of "a"s: pathspec took 46 s for 36 of them; the work is
    now bounded (tests/test_wildmatch.py counts it), so the answer comes for 250."""
    project.write(".gitignore", "*a*a*a*a*a*a*a*a*a*a*a*a*b\n" + "a*" * 40 + "a.py\n")
    project.write("a" * 250 + ".py", GOOD)
    project.write("a" * 250 + "b.py", GOOD)
    project.write("b" * 30 + ".py", GOOD)
    result = cli(*RUN, cwd=project.root)
    assert "Traceback" not in result.err, result.err
    assert sorted(_codes_by_path(result)) == ["a" * 250 + "b.py", "b" * 30 + ".py"]


NAMES = st.sampled_from(["a", "b", "ab"])
LINE_PARTS = ["a", "b", "*", "?", "[ab]", "**", ".py", "ab"]
LINE = st.builds(
    lambda negate, anchor, segments, folder: negate + anchor + "/".join(segments) + folder,
    st.sampled_from(["", "!"]), st.sampled_from(["", "/"]),
    st.lists(st.one_of(st.just("**"), st.lists(st.sampled_from(LINE_PARTS), min_size=1, max_size=3).map("".join)), min_size=1, max_size=3),
    st.sampled_from(["", "/"]),
).filter(lambda line: not re.search(r"[^/!]\*\*|\*\*[^/]", line))  # git's `a**` quirk: tests/test_wildmatch.py


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    files=st.lists(st.lists(NAMES, min_size=0, max_size=3).map(lambda folders: "/".join(folders + ["m.py"])), min_size=1, max_size=8),
    top=st.lists(LINE, max_size=3),
    nested=st.lists(LINE, max_size=3),
    start=st.sampled_from([".", "a", "a/b"]),
)
@example(files=["a/ab/m.py", "a/m.py"], top=["ab/"], nested=["!ab/"], start=".")
@example(files=["a/b/m.py", "b/m.py"], top=["b/"], nested=[], start="a")
def test_discovery_finds_what_git_does_not_ignore(files, top, nested, start):
    """Nested .gitignore files (the deeper one wins), a walk started below the repository's top
    (whose .gitignore still applies): the files found are git's untracked, unignored ones."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("")
        (root / ".gitignore").write_text("\n".join(top) + "\n")
        if (root / "a").is_dir():
            (root / "a" / ".gitignore").write_text("\n".join(nested) + "\n")
        assume((root / start).is_dir())
        listed = subprocess.run(["git", "ls-files", "-o", "--exclude-standard", "-z", "--", start],
                                cwd=root, capture_output=True, text=True, check=True).stdout
        expected = sorted(name for name in listed.split("\0") if name.endswith(".py"))
        cwd = os.getcwd()
        os.chdir(root)
        try:
            found = discovery.discover([Path(start)], lambda folder: discovery._nothing_excluded)
        finally:
            os.chdir(cwd)
        assert sorted(path.as_posix() for path in found.files) == expected, (top, nested)
