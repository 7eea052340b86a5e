"""Text that came from the repository or the model (file names, snippets, messages that quote
code, reviews, suggested fixes), made safe to print: it must not steer a terminal (ESC, OSC, BEL,
C1), reorder what a reader sees (bidi overrides), start a GitHub workflow command, or carry the
lone surrogates that a file name which is not UTF-8 decodes to (`os.fsdecode`). GitHub's runner
reads every line of a step's output for commands: `::name` at the start of a line (after blanks)
and the legacy `##[name]` anywhere in a line.

Every reporter uses these helpers; nothing here changes a finding itself (the cache, the
baseline's fingerprints and the LLM stage keep the text as it is on disk).

The escape is Python's backslash form: a byte of a file name that is not UTF-8 is written
`\\xff` (the byte `os.fsencode` gives back), a control character `\\x1b`, a bidi control `\\u202e`,
and the second `#` of `##[` `\\x23`.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL and C1, bidi embeddings, overrides, isolates and marks, the Unicode line and
# paragraph separators (some viewers break lines there), and lone surrogates.
_ALWAYS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_IN_TEXT = re.compile(f"[{_ALWAYS}]")  # tab and newline kept: they shape a snippet
_UNSAFE_IN_LINE = re.compile(f"[\t\n{_ALWAYS}]")
_WORKFLOW_COMMAND = re.compile(r"^\s*::")  # GitHub's runner trims leading blanks before it looks
_LEGACY_COMMAND = "##["


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte the file name really holds
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _sub(pattern: "re.Pattern[str]", text: str) -> str:
    return pattern.sub(_escape, text).replace(_LEGACY_COMMAND, "#\\x23[")


def printable(text: object) -> str:
    """Text that may span lines (a snippet, a review): tabs and newlines stay (CRLF becomes a
    newline), the rest is escaped."""
    return _sub(_UNSAFE_IN_TEXT, str(text).replace("\r\n", "\n"))


def one_line(text: object) -> str:
    """Text for one line (a message, a notice): runs of white space become one space first."""
    return _sub(_UNSAFE_IN_LINE, " ".join(str(text).split()))


def path_text(path: str) -> str:
    """A file name as it is on disk, every odd byte or character escaped, white space kept (it
    is part of the name) except tabs and newlines, which are escaped."""
    return _sub(_UNSAFE_IN_LINE, path)


def path_line(path: str) -> str:
    """`path_text` for a line of its own: a relative name that would start a workflow command
    is written `./::...`, the same file."""
    text = path_text(path)
    return f"./{text}" if _WORKFLOW_COMMAND.match(text) else text


def printable_data(value: Any) -> Any:
    """JSON-able data (a review record) with every string made `printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k) if isinstance(k, str) else k: printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value
