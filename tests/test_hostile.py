"""Pathological files through the real CLI: each gets one diagnostic or a normal result, the run
goes on, and the findings in the good file beside them do not change."""

import os

import pytest

from asyncreview import discovery, pipeline
from asyncreview.config import Overrides

GOOD = "import asyncio\n\n\nasync def main():\n    async with asyncio.timeout(1):\n        await asyncio.sleep(0)\n"
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


def _places(result):
    return sorted((f["path"], f["line"], f["column"], f["code"]) for f in result.json()["findings"])


def test_a_statement_too_deep_to_analyze_is_left_out_and_the_rest_of_the_file_is_analyzed(cli, project):
    """A 520-term `"a" + "b" + ...` is 520 levels of `ast` (a left-nested chain): past the limit,
    that statement alone gets ARV001, at its first character, and the file's other findings stay."""
    blocking = "\nasync def g():\n    time.sleep(1)\n"
    project.write("chain.py", "import time\n" + 'x = "a"' + ' + "b"' * 520 + "  # noqa: E501\n" + blocking)
    project.write("shared_line.py", "import time\nasync def g():\n    y = 1; x = (1" + "\n + 1" * 600 + "); z = 2\n    time.sleep(1)\n")
    project.write("decorated.py", "import time\n@d(" + "1 + " * 600 + "1)\nasync def f():\n    time.sleep(1)\n" + blocking)
    project.write("elif.py", "import time\nasync def g(a):\n    if a:\n        pass\n    elif " + "a + " * 600
                  + "a:\n        time.sleep(1)\n    else:\n        pass\n    time.sleep(2)\n")
    project.write("wide.py", "import time\n" + 'é = "é"' + ' + "é"' * 600 + "; é = 1\n" + blocking)
    project.write("just_under.py", "import time\n" + 'x = "a"' + ' + "b"' * 490 + "\n" + blocking)
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    assert _places(result) == [
        ("chain.py", 2, 1, "ARV001"), ("chain.py", 5, 5, "ARV201"),
        ("decorated.py", 2, 1, "ARV001"), ("decorated.py", 7, 5, "ARV201"),  # the whole decorated def is the statement
        ("elif.py", 5, 5, "ARV001"), ("elif.py", 9, 5, "ARV201"),
        ("just_under.py", 5, 5, "ARV201"),
        ("shared_line.py", 3, 12, "ARV001"), ("shared_line.py", 604, 5, "ARV201"),
        ("wide.py", 2, 1, "ARV001"), ("wide.py", 5, 5, "ARV201"),
    ]
    left_out = [f for f in result.json()["findings"] if f["code"] == "ARV001"]
    assert all("left out, the rest of the file was analyzed" in f["message"] for f in left_out)
    assert {f["path"]: f["snippet"][:9] for f in left_out}["chain.py"] == 'x = "a" +'


# Each file is admitted by a rule (`async def`, `time`), so it is parsed; the position is Python's.
SYNTAX_ERRORS = {
    "py2_print.py": (b"import time\n\nasync def f():\n    print \"hello world\"\n",
                     4, 5, "Missing parentheses in call to 'print'"),
    "unclosed_at_eof.py": (b"import time\n\nasync def f():\n    time.sleep(1,\n", 4, 15, "'(' was never closed"),
    "bad_indent.py": (b"import time\n\nasync def f():\n    x = 1\n      time.sleep(1)\n", 5, 7, "unexpected indent"),
    "tabs.py": (b"import time\n\nasync def f():\n\tx = 1\n        time.sleep(1)\n", 5, 9, "inconsistent use of tabs and spaces"),
    "crlf.py": (b"import time\r\n\r\nasync def f():\r\n    print \"hi there\"\r\n", 4, 5, "Missing parentheses"),
    "bom.py": (b"\xef\xbb\xbfimport time\n\nasync def f():\n    print \"hi there\"\n", 4, 5, "Missing parentheses"),
    "wide_chars.py": ("import time\n\nasync def f():\n    é = 'é' + )\n".encode(), 4, 15, "unmatched ')'"),
}


def test_syntax_errors_are_placed_where_python_places_them(cli, project):
    for name, (data, _, _, _) in SYNTAX_ERRORS.items():
        project.write(name, data)
    result = cli("--format", "json", "--no-cache", "--target-version", "3.10", ".", cwd=project.root)
    assert "Traceback" not in result.err
    found = {f["path"]: f for f in result.json()["findings"]}
    assert sorted(found) == sorted(SYNTAX_ERRORS)
    for name, (data, line, column, words) in SYNTAX_ERRORS.items():
        finding = found[name]
        assert (finding["code"], finding["line"], finding["column"]) == ("ARV001", line, column), (name, finding)
        assert words in finding["message"], (name, finding["message"])
        assert " at " not in finding["message"]  # no second place in the message to disagree with the location
        assert finding["snippet"] == data.decode("utf-8-sig").splitlines()[line - 1], name


def test_a_syntax_error_only_libcst_reports_is_placed_where_its_message_says():
    import libcst as cst

    from asyncreview import engine

    with pytest.raises(cst.ParserSyntaxError) as caught:
        cst.parse_module("import time\n\nasync def f():\n    time.sleep(1,\n")
    error = caught.value
    problem = engine._syntax_problem(error, None, "")
    assert "error at 5:0" in error.message and error.raw_column == 0  # LibCST's own account
    assert (problem.line, problem.column) == (5, 1)
    assert problem.message.startswith("syntax error: expected one of") and "5:0" not in problem.message


def test_newer_syntax_than_this_python_knows_does_not_hide_the_real_syntax_error():
    """An older Python stops at the newer syntax with a bare "invalid syntax"; LibCST knows that
    syntax and finds the real mistake further on: LibCST's account wins then."""
    import libcst as cst

    from asyncreview import engine

    text = "type Alias = int\n\nx = (1,\ny = 2 2\n"
    with pytest.raises(cst.ParserSyntaxError) as caught:
        cst.parse_module(text)
    older_python = SyntaxError("invalid syntax", ("x.py", 1, 6, "type Alias = int\n", 1, 11))
    assert engine._syntax_problem(caught.value, older_python, text).line > 1  # not the `type` statement
    specific = engine._syntax_problem(caught.value, SyntaxError("'(' was never closed", ("x.py", 3, 5, "x = (1,\n", 3, 6)), text)
    assert (specific.line, specific.column, specific.message) == (3, 5, "syntax error: '(' was never closed")
    # A file that ends too early: LibCST stops past its last line, Python's place stands.
    with pytest.raises(cst.ParserSyntaxError) as caught:
        cst.parse_module("import time\n\ndef nap(:\n")
    python = SyntaxError("invalid syntax", ("x.py", 3, 9, "def nap(:\n", 3, 10))
    assert (engine._syntax_problem(caught.value, python, "import time\n\ndef nap(:\n").line) == 3
