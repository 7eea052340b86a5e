"""Turning bytes into text LibCST can parse safely, or into one clear diagnostic."""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

from asyncreview.tree import subclasses

# LibCST's native parser overflows the C stack (a segfault, not an exception) on very deep
# nesting: 2,000 parentheses or a 100,000-term expression. Python's own parser stops those with a
# SyntaxError or RecursionError, so every file is checked with `ast` first. LibCST is also
# quadratic in nesting depth (a 2,000-term `+` chain split over lines takes 10 s, 4,000 takes
# 100 s), so syntax trees deeper than _MAX_AST_DEPTH are refused; real code stays below 60.
_MAX_AST_DEPTH = 500

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


class SourceProblem(Exception):
    """Why a file cannot be analyzed; carries the diagnostic code and where."""

    def __init__(self, code: str, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column


def decode(data: bytes) -> str:
    """PEP 263 coding lines and BOMs, as Python itself reads a source file."""
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise SourceProblem("ARV002", "file contains NUL bytes: not Python source (binary file?)", line)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceProblem("ARV002", f"cannot decode: {error.msg}", error.lineno or 1) from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SourceProblem(
            "ARV002", f"cannot decode as {encoding}: byte 0x{data[error.start]:02x} at line {line} is invalid", line
        ) from None
    except LookupError:
        raise SourceProblem("ARV002", f"unknown source encoding {encoding!r}") from None
    return text.lstrip("\ufeff") if encoding != "utf-8-sig" else text


def check_nesting(text: str) -> Optional[ast.Module]:
    """Raise SourceProblem when the file is too deep for LibCST to parse safely and quickly.
    Returns Python's own tree of the file (None when this interpreter cannot parse it)."""
    tree = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings (invalid escapes) are not ours to print
            tree = ast.parse(text)
            depth = _ast_depth(tree, _MAX_AST_DEPTH)
    except (RecursionError, MemoryError):
        raise SourceProblem("ARV001", "expression nested too deeply to analyze safely") from None
    except SyntaxError as error:
        if "too many nested" in str(error.msg) or "too complex" in str(error.msg):
            raise SourceProblem("ARV001", f"syntax error: {error.msg}", error.lineno or 1, error.offset or 1) from None
        # Other syntax errors may be newer syntax than this interpreter knows: LibCST decides.
    except ValueError as error:
        raise SourceProblem("ARV001", f"syntax error: {error}") from None
    else:
        if depth > _MAX_AST_DEPTH:
            raise SourceProblem("ARV001", f"expression nested too deeply to analyze safely (more than {_MAX_AST_DEPTH} levels)")
    return tree


def _ast_depth(tree: ast.AST, limit: int) -> int:
    """Depth of the tree without recursion; stops counting once past `limit`. Level by level,
    reading `_fields` directly and telling nodes by exact type: three times as fast as a stack
    fed by `ast.iter_child_nodes`."""
    level: List[ast.AST] = [tree]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            break
        below: List[Any] = []
        extend, append = below.extend, below.append
        for node in level:
            for name in node._fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    extend(value)
                elif value is not None and type(value) in _AST_TYPES:
                    append(value)
        level = [child for child in below if type(child) in _AST_TYPES]
    return depth


_AST_TYPES = subclasses(ast.AST)


_INDENT_FORM_FEED = re.compile(r"^[ \t\f]*\f", re.MULTILINE)


def without_indent_form_feeds(text: str) -> str:
    """CPython resets the indentation count at a form feed; LibCST rejects e.g. a form feed
    before a tab. Dropping the indentation up to the last form feed keeps the meaning (and
    every line number); columns on those lines shift."""
    return _INDENT_FORM_FEED.sub("", text)


NoqaMap = Dict[int, Optional[FrozenSet[str]]]


def noqa_lines(text: str) -> NoqaMap:
    """line -> codes a `# noqa` comment there names (None: a bare noqa, every code)."""
    result: NoqaMap = {}
    if "noqa" not in text and "NOQA" not in text.upper():
        return result
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        match = NOQA.search(line)
        if match is None:
            continue
        codes = match.group("codes")
        result[number] = None if not codes else frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c)
    return result


def is_suppressed(noqa: NoqaMap, lines: Tuple[int, ...], code: str) -> bool:
    for line in lines:
        if line not in noqa:
            continue
        codes = noqa[line]
        if codes is None or any(code.startswith(c) for c in codes):
            return True
    return False


Source = Union[str, bytes]
