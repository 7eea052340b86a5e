"""Gitignore patterns (`exclude`, `per-file-ignores` keys, .gitignore lines) as git reads them,
matched in time O(len(path) * len(pattern)) whatever the pattern.

pathspec compiled a pattern to a backtracking regex: `*a*a*a*a*a*a*a*a*a*a*a*a*b` took 46 s on a
36-letter name. Here the greedy wildcard walk (`_greedy`) runs at two levels: a segment's
characters against one name (`*`), the segments against the path's names (`**`).
Where pathspec departed from git, this follows git (tests/test_wildmatch.py runs both): a line
matches a path itself, and a path inside an ignored folder is ignored (so `!x/` re-includes the
folder x, not what is in it); `x/**` is what is inside x, not x; a bracket class never matches
`/`; only unescaped trailing spaces are dropped."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

STAR = None  # in a unit list: any run of items, possibly empty


class PatternError(ValueError):
    """A pattern git would never match with: a configuration error, a skipped .gitignore line."""


def _greedy(units: Sequence, items: Sequence, matches: Callable) -> bool:
    """Whether `units` match all of `items`: STAR takes any run of items, any other unit exactly
    one item that `matches(unit, item)` accepts. Only the last star is resumed, one item further
    each time, so each (unit, item) pair is tried at most once per star: O(len(units) * len(items))."""
    unit = item = 0
    resume_unit, resume_item = -1, 0
    unit_count, item_count = len(units), len(items)
    while item < item_count:
        if unit < unit_count:
            current = units[unit]
            if current is STAR:
                unit += 1
                resume_unit, resume_item = unit, item
                continue
            if matches(current, items[item]):
                unit += 1
                item += 1
                continue
        if resume_unit < 0:
            return False
        resume_item += 1
        unit, item = resume_unit, resume_item
    while unit < unit_count and units[unit] is STAR:
        unit += 1
    return unit == unit_count


class _CharClass:
    """`[...]`, `[!...]` (or `[^...]`) and `?`, which is a negated empty class."""

    __slots__ = ("ranges", "negated")

    def __init__(self, ranges: Tuple[Tuple[str, str], ...], negated: bool) -> None:
        self.ranges = ranges
        self.negated = negated

    def accepts(self, char: str) -> bool:
        return any(low <= char <= high for low, high in self.ranges) != self.negated


ANY_CHAR = _CharClass((), negated=True)


def _char_matches(token, char: str) -> bool:
    return token == char if token.__class__ is str else token.accepts(char)


def _class_ranges(body: str) -> Tuple[Tuple[str, str], ...]:
    ranges = []
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            ranges.append((body[index], body[index + 2]))
            index += 3
        else:
            ranges.append((body[index], body[index]))
            index += 1
    return tuple(ranges)


def _tokens(segment: str) -> List:
    """One segment's characters (str), classes and stars (consecutive stars as one)."""
    tokens: List = []
    index, end = 0, len(segment)
    while index < end:
        char = segment[index]
        index += 1
        if char == "\\":
            if index == end:
                raise PatternError("ends with a lone backslash")
            tokens.append(segment[index])
            index += 1
        elif char == "*":
            if not tokens or tokens[-1] is not STAR:
                tokens.append(STAR)
        elif char == "?":
            tokens.append(ANY_CHAR)
        elif char == "[":
            close = index + (segment[index:index + 1] in ("!", "^"))
            close += segment[close:close + 1] == "]"
            close = segment.find("]", close)
            if close < 0:
                raise PatternError("has a [ that is never closed")
            negated = segment[index] in "!^"
            tokens.append(_CharClass(_class_ranges(segment[index + negated:close]), negated))
            index = close + 1
        else:
            tokens.append(char)
    return tokens


def _segment_test(segment: str) -> Callable[[str], bool]:
    """A test of one path component against one segment, as cheap as the segment allows."""
    if segment == "*":
        return _nonempty  # any component but the empty one after a folder's "/"
    tokens = _tokens(segment)
    if all(token.__class__ is str for token in tokens):
        return "".join(tokens).__eq__
    if all(token is STAR or token.__class__ is str for token in tokens):
        pieces = [""]
        for token in tokens:
            if token is STAR:
                pieces.append("")
            else:
                pieces[-1] += token
        return _pieces_test(pieces)
    return lambda component: _greedy(tokens, component, _char_matches)


def _pieces_test(pieces: List[str]) -> Callable[[str], bool]:
    """A segment of literal pieces between stars: the first piece starts the component, the
    last ends it, the middle ones are found leftmost, in order (which is never worse than
    the greedy walk)."""
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
    fixed = len(first) + len(last)

    def test(component: str) -> bool:
        if len(component) < fixed or not component.startswith(first) or not component.endswith(last):
            return False
        start, stop = len(first), len(component) - len(last)
        for piece in middle:
            found = component.find(piece, start, stop)
            if found < 0:
                return False
            start = found + len(piece)
        return True

    return test


_nonempty = bool


def _apply(unit: Callable[[str], bool], component: str) -> bool:
    return unit(component)


def _strip_trailing_spaces(line: str) -> str:
    end = len(line)
    while end and line[end - 1] == " ":
        backslashes = 0
        while end - 2 - backslashes >= 0 and line[end - 2 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2:
            break  # "\ " is an escaped space, part of the pattern
        end -= 1
    return line[:end]


class Pattern:
    """One gitignore line. `units` are the segments' tests and STARs (for `**`) that a path's
    components must match, all of them (what is below a matched folder is the folder's
    business: `Patterns`); `include` is False for a `!` line."""

    __slots__ = ("text", "include", "folders_only", "units", "matches", "name", "suffix")

    def __init__(self, text: str, include: bool, folders_only: bool, units: List,
                 name: Optional[str] = None, suffix: Optional[str] = None) -> None:
        self.text = text
        self.include = include
        self.folders_only = folders_only
        self.units = units
        self.matches = _units_matcher(units)  # components -> bool
        self.name = name  # "x": any path whose last name is x
        self.suffix = suffix  # "*x": any path whose last name ends in x


def compile_pattern(line: str) -> Optional[Pattern]:
    """None for a blank line, a comment or `/` (which git ignores); PatternError for a line that
    could never match."""
    text = _strip_trailing_spaces(line)
    if not text or text.startswith("#") or text == "/":
        return None
    include = not text.startswith("!")
    body = text if include else text[1:]
    segments = body.split("/")
    folders_only = len(segments) > 1 and not segments[-1]  # "x/"
    if folders_only:
        segments.pop()
    if not segments[0]:
        del segments[0]  # "/x": anchored at the pattern's folder
    elif len(segments) == 1 and segments[0] != "**":
        segments.insert(0, "**")  # "x": at any depth
    if not segments:
        raise PatternError("matches nothing" if include else "negates nothing")
    segments = [s for i, s in enumerate(segments) if not (s == "**" and i and segments[i - 1] == "**")]
    if len(segments) > 1 and segments[-1] == "**":
        segments[-1:] = ["*", "**"]  # "x/**": what is inside x (one name or more), not x itself
    elif segments[-1] == "**":
        segments.append("*")  # "**", "**/": any name
    units: List = [STAR if segment == "**" else _segment_test(segment) for segment in segments]
    name = suffix = None
    if len(segments) == 2 and segments[0] == "**":
        tokens = _tokens(segments[1])
        if tokens and all(token.__class__ is str for token in tokens[1:]):
            if tokens[0] is STAR and len(tokens) > 1:
                suffix = "".join(tokens[1:])
            elif tokens[0].__class__ is str:
                name = "".join(tokens)
    return Pattern(text, include, folders_only, units, name, suffix)


def _units_matcher(units: List) -> Callable[[List[str]], bool]:
    """The common shapes (`name`, `*.ext`, `a/b`) without the general walk."""
    if len(units) == 2 and units[0] is STAR and units[1] is not STAR:
        test = units[1]
        return lambda components: test(components[-1])
    if STAR not in units:
        count = len(units)
        return lambda components: len(components) == count and all(map(_apply, units, components))
    return lambda components: _greedy(units, components, _apply)


class Patterns:
    """Gitignore lines in order. As in git, the last line that matches a path decides (a `!`
    line re-includes), and a path in an ignored folder is ignored whatever its own lines say."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.newest_first = tuple(_grouped(reversed(list(patterns))))
        self.folders: Dict[Tuple[str, ...], bool] = {}  # decided folders: a walk asks of each many times

    @classmethod
    def from_lines(cls, lines: Iterable[str], on_error: Optional[Callable[[int, str, PatternError], None]] = None) -> "Patterns":
        """`on_error(line number, line, error)` hears of bad lines, which are then skipped;
        without it the first one is raised."""
        compiled = []
        for number, line in enumerate(lines, 1):
            try:
                pattern = compile_pattern(line)
            except PatternError as error:
                if on_error is None:
                    raise PatternError(f"pattern {line!r} {error}") from None
                on_error(number, line, error)
                continue
            if pattern is not None:
                compiled.append(pattern)
        return cls(compiled)

    def match_file(self, path: str) -> bool:
        """Whether `path` is ignored, itself or as the content of an ignored folder. `path` is
        relative, with "/" between names and after a folder's name."""
        components, is_folder = _split(path)
        return self._folder_ignored(tuple(components[:-1])) or self._decides(components, is_folder) is True

    def decision(self, path: str) -> Optional[bool]:
        """What the last line that matches `path` itself says (None: no line does), for a walk
        that never enters an ignored folder."""
        return self._decides(*_split(path))

    def _folder_ignored(self, components: Tuple[str, ...]) -> bool:
        if not components:
            return False
        known = self.folders.get(components)
        if known is None:
            known = self.folders[components] = (
                self._folder_ignored(components[:-1]) or self._decides(list(components), True) is True
            )
        return known

    def _decides(self, components: List[str], is_folder: bool) -> Optional[bool]:
        for pattern in self.newest_first:
            if (is_folder or not pattern.folders_only) and pattern.matches(components):
                return pattern.include
        return None


def _grouped(patterns: Iterable[Pattern]) -> Iterator[Pattern]:
    """Neighbouring `name` and `*suffix` lines that say the same thing, tested as one set lookup
    and one endswith: a .gitignore is mostly such lines, and every path meets each of them."""
    group: List[Pattern] = []
    for pattern in [*patterns, None]:
        if pattern is not None and (pattern.name or pattern.suffix) and (
            not group or (group[0].include, group[0].folders_only) == (pattern.include, pattern.folders_only)
        ):
            group.append(pattern)
            continue
        if len(group) > 1:
            names = frozenset(p.name for p in group if p.name)
            suffixes = tuple(p.suffix for p in group if p.suffix)
            merged = Pattern(" | ".join(p.text for p in group), group[0].include, group[0].folders_only, [])
            merged.matches = lambda components, names=names, suffixes=suffixes: (
                components[-1] in names or components[-1].endswith(suffixes)
            )
            yield merged
        else:
            yield from group
        group = []
        if pattern is not None:
            if pattern.name or pattern.suffix:
                group.append(pattern)
            else:
                yield pattern


def _split(path: str) -> Tuple[List[str], bool]:
    if path.startswith("/"):
        path = path[1:]
    elif path.startswith("./"):
        path = path[2:]
    components = path.split("/")
    is_folder = len(components) > 1 and not components[-1]
    if is_folder:
        components.pop()
    return components, is_folder
