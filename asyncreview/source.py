"""Turning bytes into text LibCST can parse safely, or into one clear diagnostic."""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple, Union

from asyncreview.tree import subclasses

# LibCST's native parser overflows the C stack (a segfault, not an exception) on very deep
# nesting: 2,000 parentheses or a 100,000-term expression. Python's own parser stops those with a
# SyntaxError or RecursionError, so every file is checked with `ast` first. LibCST is also
# quadratic in nesting depth: a left-nested chain (`"a" + "b" + ...`, `a.b.c...`, `f()()...`) of
# 500 terms parses and walks in 0.05 s, 1,000 in 0.2 s, 2,000 in 0.7-2.8 s, 4,000 in 4-9 s and
# 8,000 split over lines in 200 s (measured on the deep-stack thread, 2 shared cores). A
# statement whose expressions nest deeper than _MAX_AST_DEPTH is therefore left out of the
# analysis, with one ARV001 for it, and the rest of the file is analyzed; real code stays below 60.
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


class Checked(NamedTuple):
    """What Python's own parser says of a file, before LibCST sees it."""

    tree: Optional[ast.Module]  # None: this interpreter cannot parse the file
    text: str  # the text to analyze: the file, with any statement too deep to analyze left out
    left_out: List[SourceProblem]  # one ARV001 for each statement left out
    syntax_error: Optional[SyntaxError] = None  # why `tree` is None, when it is a syntax error


def check_nesting(text: str) -> Checked:
    """Raise SourceProblem when the file cannot be analyzed safely and quickly at all; leave out
    the statements too deep for LibCST, and say where Python's parser found a syntax error (it
    may be newer syntax than this interpreter knows: LibCST decides)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings (invalid escapes) are not ours to print
            tree = ast.parse(text)
            depth = _ast_depth(tree, _MAX_AST_DEPTH)
            if depth <= _MAX_AST_DEPTH:
                return Checked(tree, text, [])
            return _without_deep_statements(text, tree)
    except (RecursionError, MemoryError):
        raise SourceProblem("ARV001", "expression nested too deeply to analyze safely") from None
    except SyntaxError as error:
        if "too many nested" in str(error.msg) or "too complex" in str(error.msg) or isinstance(error, TabError):
            raise syntax_problem(error) from None
        return Checked(None, text, [], error)
    except ValueError as error:
        raise SourceProblem("ARV001", f"syntax error: {error}") from None


def syntax_problem(error: SyntaxError) -> SourceProblem:
    """Python's syntax error as ARV001, where Python places it (line, 1-based column); an
    indentation error at the line's first character, which Python places at the end of the
    indentation or past it, depending on the version and the kind."""
    column = max(error.offset or 1, 1)
    if isinstance(error, IndentationError) and error.text:
        line = error.text.splitlines()[0] if error.text.strip() else ""
        column = len(line) - len(line.lstrip()) + 1
    return SourceProblem("ARV001", f"syntax error: {error.msg}", error.lineno or 1, column)


def _without_deep_statements(text: str, tree: ast.Module) -> Checked:
    """The file with each statement nested too deeply replaced by `(...)` over the same lines
    (line numbers stay), and one ARV001 for each; Python's tree of what is left."""
    deep = _deep_statements(tree, _MAX_AST_DEPTH)
    if not deep:  # deep only through blocks within blocks: LibCST copes
        return Checked(tree, text, [])
    lines = text.splitlines(keepends=True)
    problems = []
    for statement in reversed(deep):  # from the end, so the places before stay valid
        first = min([statement, *getattr(statement, "decorator_list", ())], key=lambda node: node.lineno)
        start_line, end_line = first.lineno, statement.end_lineno or first.lineno
        start = _character_column(lines[start_line - 1], first.col_offset)
        if first is not statement:  # a decorator's expression: from its `@`
            start = lines[start_line - 1].rindex("@", 0, start + 1)
        end = _character_column(lines[end_line - 1], statement.end_col_offset or 0)
        head, tail = lines[start_line - 1][:start], lines[end_line - 1][end:]
        lines[start_line - 1 : end_line] = [head + "(" + "\n" * (end_line - start_line) + "...)" + tail]
        problems.append(SourceProblem(
            "ARV001", f"statement nested too deeply to analyze (more than {_MAX_AST_DEPTH} levels): left out, the rest of the file was analyzed",
            start_line, start + 1))
    rest = "".join(lines)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(rest)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise SourceProblem("ARV001", f"expression nested too deeply to analyze safely (more than {_MAX_AST_DEPTH} levels)") from None
    return Checked(tree, rest, problems[::-1])


def _character_column(line: str, byte_offset: int) -> int:
    """`ast` counts columns in UTF-8 bytes."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def _deep_statements(tree: ast.Module, limit: int) -> List[ast.stmt]:
    """The outermost statements whose own parts (not the statements in their blocks) nest deeper
    than `limit`, in the order of the file. Blocks themselves nest at most 100 deep: Python's
    tokenizer allows no more indentation."""
    found: List[ast.stmt] = []
    todo: List[ast.AST] = list(tree.body)
    while todo:
        statement = todo.pop()
        depth, inner = _own_depth(statement, limit)
        if depth > limit:
            found.append(statement)  # type: ignore[arg-type]
        else:
            todo.extend(inner)
    return sorted(found, key=lambda node: (node.lineno, node.col_offset))


def _own_depth(statement: ast.AST, limit: int) -> Tuple[int, List[ast.AST]]:
    """The depth of a statement without its blocks' statements (stopping past `limit`), and
    those statements."""
    level: List[ast.AST] = [statement]
    inner: List[ast.AST] = []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            break
        below = _below(level)
        level = []
        for child in below:
            kind = type(child)
            if kind in _STATEMENT_TYPES:
                inner.append(child)
            elif kind in _AST_TYPES:
                level.append(child)
    return depth, inner


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
        level = [child for child in _below(level) if type(child) in _AST_TYPES]
    return depth


def _below(level: List[ast.AST]) -> List[Any]:
    """What the nodes of one level hold: their child nodes, and the items of their lists (nodes,
    or strings such as `global` names, which the callers drop by type)."""
    below: List[Any] = []
    extend, append = below.extend, below.append
    for node in level:
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                extend(value)
            elif value is not None and type(value) in _AST_TYPES:
                append(value)
    return below


_AST_TYPES = subclasses(ast.AST)
_STATEMENT_TYPES = subclasses(ast.stmt)


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
