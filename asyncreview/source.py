"""Turning bytes into text LibCST can parse safely, or into one clear diagnostic."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Dict, FrozenSet, Optional, Tuple, Union

# LibCST's native parser overflows the C stack (a segfault, not an exception) on very deep
# nesting: 2,000 parentheses or a 100,000-term expression. Python's own parser stops those with a
# SyntaxError or RecursionError, so files that look deep are checked with `ast` first.
_RISKY_BRACKET_DEPTH = 100
_RISKY_LINE_LENGTH = 10_000
_BRACKETS = bytes(range(256)).translate(None, b"()[]{}")

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


def _max_bracket_depth(data: bytes) -> int:
    depth = deepest = 0
    for byte in data.translate(None, _BRACKETS):
        if byte in b"([{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1 if depth else 0
    return deepest


def looks_too_deep(data: bytes) -> bool:
    if len(data) > _RISKY_LINE_LENGTH and max(map(len, data.splitlines()), default=0) > _RISKY_LINE_LENGTH:
        return True
    return _max_bracket_depth(data) > _RISKY_BRACKET_DEPTH


def check_nesting(text: str) -> None:
    """Raise SourceProblem when Python's own parser finds the file too deep to parse safely."""
    try:
        ast.parse(text)
    except (RecursionError, MemoryError):
        raise SourceProblem("ARV001", "expression nested too deeply to analyze safely") from None
    except SyntaxError as error:
        if "too many nested" in str(error.msg) or "too complex" in str(error.msg):
            raise SourceProblem("ARV001", f"syntax error: {error.msg}", error.lineno or 1, error.offset or 1) from None
        # Other syntax errors may be newer syntax than this interpreter knows: LibCST decides.
    except ValueError as error:
        raise SourceProblem("ARV001", f"syntax error: {error}") from None


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
