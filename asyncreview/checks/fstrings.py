"""Which f-strings only Python 3.12's grammar (PEP 701) parses, for ARV103: Python 3.11's own
f-string scanner (Parser/string_parser.c), followed step by step, run on what LibCST parsed."""

from __future__ import annotations

import libcst as cst

_CODE = cst.Module(body=[])  # generates a node's source


class _OldGrammarRejects(Exception):
    pass


def needs_pep701(node: cst.FormattedString) -> bool:
    """Whether Python 3.11 rejects this f-string, which 3.12's grammar (PEP 701) parses. Before
    3.12 an f-string was first read as a plain string (it ends at the first quote of its own kind,
    single-quoted ones at the end of the line), then its fields were found by
    Parser/string_parser.c, which this follows: no backslash and no comment in a field, fields in
    a format spec at most one level deep, nothing between a conversion and the `:` or `}`."""
    if not any(type(part) is cst.FormattedStringExpression for part in node.parts):
        return False
    quote = node.end
    body = "".join(part.value if type(part) is cst.FormattedStringText else _CODE.code_for_node(part)  # type: ignore[attr-defined]
                   for part in node.parts)
    index = 0
    while index < len(body):
        if body[index] == "\\":
            index += 2
            continue
        if body.startswith(quote, index) or (body[index] == "\n" and len(quote) == 1):
            return True
        index += 1
    try:
        _old_fields(body, 0, "r" in node.start.lower(), 0)
    except _OldGrammarRejects:
        return True
    return False


def _old_literal(body: str, index: int, raw: bool, level: int) -> int:
    """Literal text from `index` on: the index of the brace that ends it, or the end."""
    while index < len(body):
        char = body[index]
        if char == "\\" and not raw and index + 1 < len(body):
            if body.startswith("N{", index + 1):  # \N{NAME}: its braces are no field
                close = body.find("}", index + 3)
                index = len(body) if close < 0 else close + 1
                continue
            index += 1
            char = body[index]
        if char in "{}":
            if level == 0 and body.startswith(char, index + 1):
                index += 2
                continue
            if char == "}" and level == 0:
                raise _OldGrammarRejects
            return index
        index += 1
    return index


def _old_fields(body: str, index: int, raw: bool, level: int) -> int:
    """Literal text and fields from `index`; in a format spec (level > 0), the index of its `}`."""
    while True:
        index = _old_literal(body, index, raw, level)
        if index >= len(body):
            if level:
                raise _OldGrammarRejects
            return index
        if body[index] == "}":
            return index
        index = _old_field(body, index, raw, level)


def _old_field(body: str, index: int, raw: bool, level: int) -> int:
    """The field whose `{` is at `index`: the index after its `}`."""
    if level >= 2:
        raise _OldGrammarRejects  # "f-string: expressions nested too deeply"
    index += 1
    quote, depth = "", 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            raise _OldGrammarRejects
        if quote:
            if body.startswith(quote, index):
                index += len(quote)
                quote = ""
            else:
                index += 1
            continue
        if char in "'\"":
            quote = char * 3 if body.startswith(char * 3, index) else char
            index += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char == "#":
            raise _OldGrammarRejects
        elif depth == 0 and char in "!:}=<>":
            if char in "!=<>" and body.startswith("=", index + 1):
                index += 2
                continue
            if char not in "<>":
                break
        elif char in ")]}":
            depth -= 1
        index += 1
    if quote or depth or index >= len(body):
        raise _OldGrammarRejects
    if body[index] == "=":
        index += 1
        while index < len(body) and body[index] in " \t\n\r\f\v":
            index += 1
    if body.startswith("!", index):
        if body[index + 1:index + 2] not in ("s", "r", "a"):
            raise _OldGrammarRejects
        index += 2
    if body.startswith(":", index):
        index = _old_fields(body, index + 1, raw, level + 1)
    if not body.startswith("}", index):
        raise _OldGrammarRejects
    return index + 1
