"""asyncreview.wildmatch keeps the gitignore semantics pathspec had (and git has) while its work
stays bounded by len(path) * len(pattern), where pathspec's regexes backtrack exponentially."""

import os
import re
import subprocess
import tempfile
import warnings
from pathlib import Path

import pathspec
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from asyncreview import wildmatch
from asyncreview.wildmatch import PatternError, Patterns, compile_pattern

NAMES = st.text(alphabet="ab.", min_size=1, max_size=3).filter(lambda name: name not in (".", ".."))
GLOB_PARTS = ["a", "b", ".", "*", "**", "?", "[ab]", "[!a]", "[^b]", "[a-b]", "[]a]", "\\*", "\\a", "\\!", "\\#"]
GLOBS = st.lists(st.sampled_from(GLOB_PARTS), min_size=1, max_size=4).map("".join)
SEGMENTS = st.one_of(GLOBS, st.just("**"))


@st.composite
def lines(draw, negated=True):
    body = "/".join(draw(st.lists(SEGMENTS, min_size=1, max_size=3)))
    prefix = draw(st.sampled_from(["", "/", "!", "!/"] if negated else ["", "/"]))
    return prefix + body + draw(st.sampled_from(["", "/"]))


@st.composite
def trees(draw):
    """Files and the folders they make; a name is a file or a folder, never both."""
    files = draw(st.lists(st.lists(NAMES, min_size=1, max_size=4).map("/".join), min_size=1, max_size=6))
    folders = {"/".join(f.split("/")[:i]) for f in files for i in range(1, f.count("/") + 1)}
    return sorted(set(files) - folders), sorted(folders)


def _pathspec_oracle(line):
    """pathspec's regex for one line with git's behaviour where pathspec departs from it: a
    negated class never matches "/" (git matches one segment at a time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (pattern,) = pathspec.PathSpec.from_lines("gitwildmatch", [line]).patterns or [None]
    if pattern is None or pattern.include is None:
        return None
    return re.compile(pattern.regex.pattern.replace("[^", "[^/")), pattern.include


def _ends_in_double_star(line):
    """pathspec lets "x/**" match the folder x itself and "x/**/" any file below x; git does not.
    Git reads a segment of two or more stars as `**` ("aa/***" ignores aa/x but not aa)."""
    segments = [s for s in line.split("/") if s]
    return len(segments) > 1 and len(segments[-1]) > 1 and set(segments[-1]) == {"*"}


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(lines(negated=False), min_size=1, max_size=3), trees())
@example(["*a*a*b"], (["aaab", "aab/a"], ["aab"]))
@example(["[!a]"], (["b/a"], ["b"]))
@example(["aa/***"], (["aa/x"], ["aa"]))
def test_answers_as_pathspec(patterns, tree):
    """Without `!` lines: pathspec lets a `!` line that matches a folder re-include what is in
    it, where git (and asyncreview) judge each path below on its own lines."""
    assume(not any(_ends_in_double_star(line) for line in patterns))
    oracles = [_pathspec_oracle(line) for line in patterns]
    ours = Patterns.from_lines(patterns)
    files, folders = tree
    for path in files + [folder + "/" for folder in folders]:
        expected = any(oracle is not None and oracle[0].search(path) for oracle in oracles)
        assert ours.match_file(path) == expected, (patterns, path)


def _git_check_ignore(gitignore, files, folders):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        (root / ".gitignore").write_text(gitignore)
        for name in folders:
            (root / name).mkdir(parents=True, exist_ok=True)
        for name in files:
            (root / name).write_text("")
        completed = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin", "-z"],
            cwd=root, input="\0".join(files + folders) + "\0", capture_output=True, text=True,
        )
        assert completed.returncode in (0, 1), completed.stderr
        return set(filter(None, completed.stdout.split("\0")))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(lines(), min_size=1, max_size=3), trees())
@example(["a/**", "!a/b"], (["a/b", "a/c/d"], ["a", "a/c"]))
@example(["a/**/"], (["a/b", "a/c/d"], ["a", "a/c"]))
@example(["b", "!a/b/c"], (["a/b/c"], ["a", "a/b"]))
@example(["**", "!a/"], (["a/a"], ["a"]))
def test_answers_as_git_check_ignore(patterns, tree):
    # git matches a line's literal start first, then the rest as a pattern of its own: `a**/b`
    # becomes `a` + `**/b` and matches a/b. asyncreview reads `a**` as `a*`, as pathspec does.
    assume(not any(re.search(r"[^/!]\*\*|\*\*[^/]", line) for line in patterns))
    files, folders = tree
    spec = Patterns.from_lines(patterns)
    ours = {path for path in files if spec.match_file(path)} | {path for path in folders if spec.match_file(path + "/")}
    assert ours == _git_check_ignore("\n".join(patterns) + "\n", files, folders), patterns


@pytest.mark.parametrize("line, path, matched", [
    ("foo   ", "foo", True),  # trailing spaces dropped...
    ("foo\\ ", "foo ", True),  # ... unless escaped
    ("foo\\ ", "foo", False),
    ("\\#x", "#x", True),
    ("#x", "#x", False),  # a comment
    ("\\!x", "!x", True),
    ("a[!b]c", "a/c", False),  # a class never matches "/"
    ("/a", "x/a", False),
    ("a", "x/a/y.py", True),
    ("x/a", "y/x/a", False),  # a slash in the middle anchors
    ("**/x/a", "y/x/a", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**", "a/", False),  # the folder itself is not inside itself (git; pathspec says True)
    ("aa/***", "aa/", False),  # git reads three stars as two (checked with git check-ignore)
    ("aa/***", "aa/x", True),
    ("aa/***", "aa/b/c", True),
    ("a/", "a", False),  # folders only
    ("a/", "a/", True),
])
def test_gitignore_details(line, path, matched):
    assert Patterns.from_lines([line]).match_file(path) is matched


@pytest.mark.parametrize("line, problem", [
    ("!", "negates nothing"), ("\\", "lone backslash"), ("a/b\\", "lone backslash"), ("[ab", "never closed"),
])
def test_lines_that_could_never_match_are_errors(line, problem):
    with pytest.raises(PatternError, match=problem):
        Patterns.from_lines(["ok", line])
    heard = []
    spec = Patterns.from_lines(["x.py", line], on_error=lambda number, text, error: heard.append((number, text)))
    assert heard == [(2, line)] and spec.match_file("x.py")


def _counting(function):
    calls = [0]

    def counted(*args):
        calls[0] += 1
        return function(*args)

    return counted, calls


@pytest.mark.parametrize("stars", [12, 60])
def test_the_adversarial_pattern_takes_work_bounded_by_name_times_pattern(stars):
    """The issue's case, 36 "a"s against `*a*...*a*b`, through the general walk: every step
    of the walk asks `matches` once, and it is asked at most len(name) * len(pattern) times."""
    segment = "*a" * stars + "*b"
    name = "a" * 36 * (stars // 12)
    tokens = wildmatch._tokens(segment.replace("a", "[a]"))  # classes: the walk, not the fast path
    matches, calls = _counting(wildmatch._char_matches)
    assert not wildmatch._greedy(tokens, name, matches)
    assert calls[0] <= len(name) * len(tokens)
    assert wildmatch._greedy(tokens, name + "b", wildmatch._char_matches)
    # Star-only segments take the fast path: each literal piece is looked for once, left to right.
    scanned = []

    class Name(str):
        def find(self, piece, start, stop):
            scanned.append(stop - start)
            return str.find(self, piece, start, stop)

    assert wildmatch._segment_test(segment)(Name(name + "b"))
    assert len(scanned) == stars and sum(scanned) <= stars * len(name + "b")
    scanned.clear()  # one "a" too few: a backtracking search would try every way to place them
    assert not wildmatch._segment_test(segment)(Name("a" * (stars - 1) + "b"))
    assert len(scanned) <= stars and sum(scanned) <= stars * stars
    # The public path answers too (pathspec: 46 s for 36 "a"s).
    spec = Patterns.from_lines([segment, f"x/{segment}/y", f"**/{segment}/**"])
    assert not spec.match_file(name) and spec.match_file(name + "b") and spec.match_file(f"x/{name}b/y")


def test_folders_against_double_stars_take_bounded_work():
    """`**` between segments: components are walked as characters are."""
    line = "/".join(["**", "a"] * 30) + "/b"
    pattern = compile_pattern(line)
    path = "/".join(["a"] * 200)
    matches, calls = _counting(wildmatch._apply)
    assert not wildmatch._greedy(pattern.units, path.split("/"), matches)
    assert calls[0] <= len(pattern.units) * 200
    assert not Patterns.from_lines([line]).match_file(path)  # and for each of its 199 folders
    assert Patterns.from_lines([line]).match_file(path + "/b")


def test_star_only_segments_agree_with_the_walk():
    """The fast path for `*.py`-like segments says what the general walk says."""
    for segment in ["*.py", "a*", "*a*b*", "a*b*a", "**", "ab*ba", "*aa*aa*"]:
        fast = wildmatch._segment_test(segment)
        tokens = wildmatch._tokens(segment)
        for name in ["", "a", "ab", "aba", "abba", "aabaa", "x.py", "aaaa", "abab", "baab"]:
            assert fast(name) == wildmatch._greedy(tokens, name, wildmatch._char_matches), (segment, name)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab/*?[]!^-\\# ", max_size=8), max_size=4), st.text(alphabet="ab/.", max_size=8))
@example(["**//", "//", "!//", "/**/", "[]", "[!]", "\\ "], "a/b")
def test_any_line_compiles_or_is_a_pattern_error_and_any_path_gets_an_answer(lines, path):
    spec = Patterns.from_lines(lines, on_error=lambda number, line, error: None)
    assert spec.match_file(path) in (True, False)
    assert spec.decision(path) in (True, False, None)
