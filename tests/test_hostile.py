"""Pathological files through the real CLI: each gets one diagnostic or a normal result, the run
goes on, and the findings in the good file beside them do not change."""

import os

from asyncreview import discovery, pipeline
from asyncreview.config import Overrides

GOOD = "import asyncio\n\n\nasync def main():\n    async with asyncio.timeout(1):\n        pass\n"
H = "import asyncio\n"


def _codes_by_path(result):
    by_path = {}
    for finding in result.json()["findings"]:
        by_path.setdefault(finding["path"], []).append(finding["code"])
    return by_path


def _baseline(cli, project):
    project.write("good.py", GOOD)
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", "good.py", cwd=project.root)
    return [(f["line"], f["column"], f["code"], f["message"]) for f in result.json()["findings"]]


def _good_findings(result):
    return [(f["line"], f["column"], f["code"], f["message"]) for f in result.json()["findings"] if f["path"] == "good.py"]


# Each of these used to send LibCST into a quadratic crawl (minutes) or past the C stack: the
# deep ones are split over lines or kept on lines under 10,000 characters so no byte heuristic sees them.
DEEP = {
    "plus_continued": H + "x = 1" + " \\\n+ 1" * 3000 + "\n",
    "plus_one_line": H + "x = 1" + "+1" * 2400 + "\n",
    "plus_in_parens": H + "x = (1" + "\n+ 1" * 3000 + ")\n",
    "unary_one_line": H + "x = " + "-" * 100_000 + "1\n",
    "unary_continued": H + "x = " + "-\\\n" * 3000 + "1\n",
    "not_continued": H + "x = " + "not \\\n" * 3000 + "1\n",
    "lambdas_one_line": H + "f = " + "lambda: " * 1200 + "1\n",
    "lambdas_continued": H + "f = " + "lambda: \\\n" * 3000 + "1\n",
    "attributes_one_line": H + "x = a" + ".b" * 100_000 + "\n",
    "attributes_continued": H + "x = a" + "\\\n.b" * 3000 + "\n",
    "calls_continued": H + "x = f" + "\\\n()" * 3000 + "\n",
    "subscripts_continued": H + "x = a" + "\\\n[0]" * 3000 + "\n",
    "power_continued": H + "x = 2" + " \\\n** 2" * 3000 + "\n",
    "ternaries_continued": H + "x = a" + " \\\nif b else a" * 3000 + "\n",
    "string_concat_plus": H + "x = (" + "\n".join(['"a" +'] * 3000) + '"b")\n',
    "nested_lists": H + "x = " + "[" * 3000 + "]" * 3000 + "\n",
    "nested_dicts": H + "x = " + "{1: " * 1000 + "1" + "}" * 1000 + "\n",
    "nested_calls": H + "x = " + "f(" * 1500 + ")" * 1500 + "\n",
    # Flat for Python, but LibCST nests implicit concatenation and gives up past a few thousand.
    "implicit_strings_20k": H + "x = (\n" + '    "a"\n' * 20_000 + ")\nasyncio.timeout\n",
    "indented_300": H + "".join(" " * i + "if x:\n" for i in range(300)) + " " * 300 + "pass\n",
}

# Deep but legal, well within bounds: analyzed normally, and the finding inside is reported.
MODERATE = {
    "indented_90": H + "".join("    " * i + "if x:\n" for i in range(90)) + "    " * 90 + "asyncio.timeout\n",
    "defs_90": H + "".join("    " * i + f"def f{i}():\n" for i in range(90)) + "    " * 90 + "asyncio.timeout\n",
    "plus_200": H + "x = asyncio.timeout" + " \\\n+ 1" * 200 + "\n",
    "implicit_strings_300": H + "x = (\n" + '    "a"\n' * 300 + ")\nasyncio.timeout\n",
    "comparisons_3000": H + "x = asyncio.timeout" + " \\\n< a" * 3000 + "\n",  # one flat node
    "lambdas_100": H + "f = " + "lambda: " * 100 + "asyncio.timeout\n",
}


def test_deep_nesting_variants_get_one_diagnostic_each(cli, project):
    expected_good = _baseline(cli, project)
    for name, text in {**DEEP, **MODERATE}.items():
        project.write(f"{name}.py", text)
    # A hang fails on the cli fixture's subprocess timeout: no wall-clock assertion here.
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    by_path = _codes_by_path(result)
    for name in DEEP:
        assert by_path.get(f"{name}.py") == ["ARV001"], name
    for name in MODERATE:
        assert by_path.get(f"{name}.py") == ["ARV101"], name
    messages = {f["path"]: f["message"] for f in result.json()["findings"]}
    assert "nested too deeply" in messages["plus_continued.py"]
    assert _good_findings(result) == expected_good


def test_form_feeds_and_tabs(cli, project):
    expected_good = _baseline(cli, project)
    # Valid Python (CPython resets the indentation count at a form feed); LibCST alone rejects
    # a form feed before a tab, so the engine retries without indentation form feeds.
    project.write("feeds.py", b"import asyncio\n\x0c\nasync def f():\n\tawait asyncio.sleep(1)\n\tasyncio.timeout\n"
                  b"\x0c\nclass A:\n\x0c\tasync def g(self):\n\t\tasyncio.timeout\n\n\x0c    \nx = 1\n")
    project.write("tabs.py", b"import asyncio\nif True:\n\tif True:\n\t\tasyncio.timeout\n")
    project.write("feed_spaces.py", b"import asyncio\ndef f():\n\x0c    asyncio.timeout\n")
    project.write("mixed.py", b"import asyncio\nif True:\n        x = 1\n\tasyncio.timeout\n")  # TabError
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    lines = {}
    for finding in result.json()["findings"]:
        lines.setdefault(finding["path"], []).append((finding["line"], finding["code"]))
    assert lines["feeds.py"] == [(5, "ARV101"), (9, "ARV101")]
    assert lines["tabs.py"] == [(4, "ARV101")]
    assert lines["feed_spaces.py"] == [(3, "ARV101")]
    assert [code for _, code in lines["mixed.py"]] == ["ARV001"]
    assert _good_findings(result) == expected_good


def test_empty_and_blank_files_are_clean(cli, project):
    expected_good = _baseline(cli, project)
    for name, data in {
        "empty.py": b"",
        "newline.py": b"\n",
        "bom_only.py": b"\xef\xbb\xbf",
        "spaces.py": b"   \n\t\n",
        "comment.py": b"# import asyncio\n",
        "feed.py": b"\x0c",
        "crlf_only.py": b"\r\n\r\n",
        "asyncio_no_newline.py": b"import asyncio",
        "empty.pyi": b"",
    }.items():
        project.write(name, data)
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    assert _codes_by_path(result) == {"good.py": ["ARV101"]}
    assert result.json()["summary"]["files"] == 10
    assert _good_findings(result) == expected_good


def test_a_100k_line_file_is_analyzed_or_skipped_past_the_limit(cli, project):
    expected_good = _baseline(cli, project)
    big = project.write("big.py", H + "\n" * 50_000 + "# filler\n" * 50_000 + "asyncio.timeout\n")
    assert big.read_text().count("\n") == 100_002
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert [(f["line"], f["code"]) for f in result.json()["findings"] if f["path"] == "big.py"] == [(100_002, "ARV101")]

    size = big.stat().st_size
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", "--max-file-size", "100000", ".", cwd=project.root)
    skipped = [f for f in result.json()["findings"] if f["path"] == "big.py"]
    assert [f["code"] for f in skipped] == ["ARV004"]
    assert skipped[0]["message"] == f"skipped: too large ({size} bytes; max-file-size is 100000)"
    assert _good_findings(result) == expected_good
    assert result.code == 1

    # The config key does the same, per folder; the command line wins over it.
    project.write("pyproject.toml", "[tool.asyncreview]\ntarget-version = \"3.10\"\nmax-file-size = 1000\n")
    result = cli("--format", "json", "--no-cache", ".", cwd=project.root)
    assert _codes_by_path(result) == {"big.py": ["ARV004"], "good.py": ["ARV101"]}
    result = cli("--format", "json", "--no-cache", "--max-file-size", "5000", ".", cwd=project.root)
    assert [f["message"] for f in result.json()["findings"] if f["path"] == "big.py"] == [
        f"skipped: too large ({size} bytes; max-file-size is 5000)"
    ]


def test_max_file_size_is_validated(cli, project):
    project.write("good.py", GOOD)
    for bad in ("0", "-5", "lots", "1.5"):
        result = cli("--max-file-size", bad, ".", cwd=project.root)
        assert result.code == 2 and "--max-file-size" in result.err and "Traceback" not in result.err
    for bad in ("0", "true", '"5MB"', "-1"):
        project.write("pyproject.toml", f"[tool.asyncreview]\nmax-file-size = {bad}\n")
        result = cli(".", cwd=project.root)
        assert result.code == 2 and "'max-file-size'" in result.err and "Traceback" not in result.err, bad


def test_files_that_vanish_or_change_kind_after_discovery(tmp_path, monkeypatch):
    """Discovery is real; between it and the read, files are deleted or replaced by a folder or
    a FIFO (which would block a plain read forever)."""
    monkeypatch.setenv("ASYNCREVIEW_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    root.mkdir()
    (root / "good.py").write_text(GOOD)
    for name in ("deleted.py", "now_a_folder.py", "now_a_fifo.py"):
        (root / name).write_text(GOOD)
    real = discovery.discover

    def racing(*args, **kwargs):
        found = real(*args, **kwargs)
        os.unlink(root / "deleted.py")
        os.unlink(root / "now_a_folder.py")
        (root / "now_a_folder.py").mkdir()
        os.unlink(root / "now_a_fifo.py")
        os.mkfifo(root / "now_a_fifo.py")
        return found

    monkeypatch.setattr(discovery, "discover", racing)
    result = pipeline.run(pipeline.RunOptions(paths=[root], overrides=Overrides(target_version=(3, 10)), jobs=1))
    codes = {os.path.basename(f.path): (f.code, f.message) for f in result.findings}
    assert len(result.findings) == 4
    assert codes["good.py"][0] == "ARV101"
    assert codes["deleted.py"] == ("ARV002", "cannot read file: No such file or directory")
    assert codes["now_a_folder.py"] == ("ARV002", "cannot read file: Is a directory")
    assert codes["now_a_fifo.py"] == ("ARV002", "cannot read file: not a regular file")


def test_fifo_and_dangling_symlink_named_on_the_command_line(cli, project):
    expected_good = _baseline(cli, project)
    os.mkfifo(project.root / "pipe")
    (project.root / "pipe.py").symlink_to(project.root / "pipe")
    (project.root / "gone.py").symlink_to(project.root / "missing.py")
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", "good.py", "pipe.py", "gone.py", cwd=project.root)
    assert "Traceback" not in result.err
    assert _codes_by_path(result) == {"good.py": ["ARV101"], "pipe.py": ["ARV002"], "gone.py": ["ARV002"]}
    assert _good_findings(result) == expected_good


def test_symlinks_out_of_the_tree(cli, project, tmp_path):
    """A file symlink is analyzed under its own name (as ruff and flake8 do); a folder symlink is
    not followed, so nothing outside the tree is walked."""
    expected_good = _baseline(cli, project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.py").write_text(GOOD)
    (outside / "pkg").mkdir()
    (outside / "pkg" / "hidden.py").write_text(GOOD)
    (project.root / "linked.py").symlink_to(outside / "elsewhere.py")
    (project.root / "linked_pkg").symlink_to(outside / "pkg")
    (project.root / "root_link").symlink_to("/")
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    assert _codes_by_path(result) == {"good.py": ["ARV101"], "linked.py": ["ARV101"]}
    assert result.json()["summary"]["files"] == 2
    assert _good_findings(result) == expected_good
