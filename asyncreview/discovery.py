"""Which files to analyze: every .py/.pyi below the given paths, minus .gitignore'd files,
configured excludes, VCS folders, virtual environments and build output."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from asyncreview.wildmatch import Patterns

DEFAULT_EXCLUDES = [
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    ".vscode", "__pypackages__", "__pycache__", "_build", "buck-out", "build", "dist", "node_modules",
    "site-packages", "venv",
]
SUFFIXES = (".py", ".pyi")
# What a name that looks like a Python file may be instead; such files are reported, never opened
# (reading a FIFO blocks, opening a device may act on it).
NOT_REGULAR = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Discovery:
    files: List[Path] = field(default_factory=list)
    problems: List[Skipped] = field(default_factory=list)
    warnings: Dict[str, None] = field(default_factory=dict)  # ordered, each once


class _Ignores:
    """Gitignore files met on the way down, and those above the walk's root up to the top of its
    repository. As in git, the deepest file with a line that matches a path decides; the walk
    never enters an ignored folder. A line git cannot use (`!` alone, a lone `\\`, an unclosed
    `[`) is skipped with a warning; git skips it silently."""

    def __init__(self, warnings: Dict[str, None]) -> None:
        # (characters to drop from a path below the root, the root's path from the file's folder, lines)
        self.stack: List[Tuple[int, str, Patterns]] = []
        self.warnings = warnings

    def load(self, folder: Path, below_root: str = "", root_from_here: str = "") -> None:
        """`below_root`: the folder's path from the walk's root ("" for the root or a folder
        above it); `root_from_here`: for a folder above the root, the root's path from it."""
        ignore_file = folder / ".gitignore"
        try:
            lines = read_regular(ignore_file).decode("utf-8", errors="replace").splitlines()
        except OSError:
            return

        def warn(number: int, line: str, error: Exception) -> None:
            self.warnings[f"{display_path(ignore_file)}:{number}: pattern {line!r} ignored: it {error}"] = None

        strip = len(below_root) + 1 if below_root else 0
        self.stack.append((strip, root_from_here + "/" if root_from_here else "", Patterns.from_lines(lines, on_error=warn)))

    def ignore_root(self) -> bool:
        """Whether the walk's root, or a folder between it and the top of its repository, is
        ignored by the files above the root (git never enters such a folder)."""
        above = [(prefix[:-1].split("/"), spec) for _, prefix, spec in reversed(self.stack) if prefix]
        for levels_up in range(max((len(parts) for parts, _ in above), default=0) - 1, -1, -1):
            for parts, spec in above:
                if levels_up < len(parts):
                    decision = spec.decision("/".join(parts[: len(parts) - levels_up]) + "/")
                    if decision is not None:
                        if decision:
                            return True
                        break
        return False

    def matches(self, below_root: str, is_dir: bool) -> bool:
        """`below_root`: the path from the walk's root, "/" between names."""
        suffix = "/" if is_dir else ""
        for strip, prefix, spec in reversed(self.stack):
            decision = spec.decision(prefix + below_root[strip:] + suffix)
            if decision is not None:
                return decision
        return False


def discover(
    roots: List[Path],
    excluder_for: Callable[[Path], Callable[[Path, bool], bool]],
    force_exclude: bool = False,
    respect_gitignore: bool = True,
) -> Discovery:
    """`excluder_for(folder)` gives the exclude test of the config that governs that folder."""
    result = Discovery()
    seen: set = set()
    folders: Dict[Path, Path] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            result.problems.append(Skipped(str(root), "no such file or directory"))
            continue
        if not root.is_dir():
            excluded = excluder_for(root.parent)
            if force_exclude and excluded(root, False):
                continue
            kind = _not_regular(root)
            if kind:
                result.problems.append(Skipped(str(root), f"not a regular file: {kind}"))
                continue
            _add(result, seen, root, folders)
            continue
        ignores = _Ignores(result.warnings)
        if respect_gitignore:
            resolved = root.resolve()
            for parent in _repository_ancestors(resolved):
                ignores.load(parent, root_from_here=resolved.relative_to(parent).as_posix())
            if ignores.ignore_root():
                result.warnings[f"{display_path(root)}: in a folder .gitignore ignores: nothing checked there (--no-respect-gitignore checks it)"] = None
                continue
        for path, link in _walk(root, ignores, excluder_for, respect_gitignore, result):
            _add(result, seen, path, folders, link)
    return result


class FileTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_regular(path: Path, limit: Optional[int] = None) -> bytes:
    """A regular file's bytes, never more than `limit` (else FileTooLarge). Anything else is an
    OSError, without blocking: a FIFO named .gitignore, pyproject.toml or *.py would hang a plain
    read. A file that grows (or vanishes) after discovery is handled like any other."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if limit is None:
            return handle.read()
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(len(data))
    return data


def _not_regular(path: Path) -> Optional[str]:
    """What `path` (or what it links to) is, when it exists and is neither a file nor a folder."""
    try:
        mode = path.stat().st_mode
    except (OSError, RuntimeError):
        return None  # missing or a broken link: reading it says so
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")


def _repository_ancestors(folder: Path) -> List[Path]:
    """Folders above `folder` up to the top of its git repository, outermost first."""
    chain = []
    for parent in folder.parents:
        chain.append(parent)
        if (parent / ".git").exists():
            return list(reversed(chain))
    return []


def _add(result: Discovery, seen: set, path: Path, folders: Dict[Path, Path], link: bool = True) -> None:
    """Each file once, however many roots or links lead to it. Only links need resolving
    themselves; any other file is its resolved folder plus its name."""
    try:
        if link:
            key = path.resolve()
        else:
            folder = folders.get(path.parent)
            if folder is None:
                folder = folders[path.parent] = path.parent.resolve()
            key = folder / path.name
    except (OSError, RuntimeError):
        key = path.absolute()
    if key not in seen:
        seen.add(key)
        result.files.append(path)


def _walk(root, ignores, excluder_for, respect_gitignore, result) -> Iterator[Tuple[Path, bool]]:
    """Python files below `root`, each with whether it is a symbolic link."""
    stack: List[Tuple[Path, str, int]] = [(root, "", len(ignores.stack))]
    while stack:
        folder, below_root, depth = stack.pop()
        del ignores.stack[depth:]
        if respect_gitignore:
            ignores.load(folder, below_root)
        excluded = excluder_for(folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            result.problems.append(Skipped(str(folder), f"cannot list folder: {error.strerror}"))
            continue
        level = len(ignores.stack)
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            relative = f"{below_root}/{entry.name}" if below_root else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True)
            except OSError:
                continue
            link = entry.is_symlink()
            if link and not is_file and not entry.name.endswith(SUFFIXES):
                continue  # symlinked folders are not followed: no loops, no escaping the tree
            if is_dir:
                if entry.name in DEFAULT_EXCLUDES or (path / "pyvenv.cfg").exists():
                    continue
                if excluded(path, True) or (respect_gitignore and ignores.matches(relative, True)):
                    continue
                subfolders.append((path, relative, level))
            elif entry.name.endswith(SUFFIXES):
                if excluded(path, False) or (respect_gitignore and ignores.matches(relative, False)):
                    continue
                if is_file:
                    yield path, link
                    continue
                kind = _not_regular(path)
                if kind:
                    result.problems.append(Skipped(str(path), f"not a regular file: {kind}"))
                # else a folder linked under a Python name, or a broken link (an editor's lock)
        stack.extend(reversed(subfolders))


def make_excluder(base: Path, patterns: List[str]) -> Callable[[Path, bool], bool]:
    """A test for paths below `base` against gitignore-style patterns (as ruff's `exclude`).
    Folders are resolved once each (not every file: resolving is a system call per component)."""
    if not patterns:
        return _nothing_excluded
    spec = Patterns.from_lines(patterns)
    anchor = base.resolve()
    folders: Dict[Path, Optional[str]] = {}

    def excluded(path: Path, is_dir: bool) -> bool:
        parent = path.parent
        if parent not in folders:
            try:
                folders[parent] = parent.resolve().relative_to(anchor).as_posix()
            except (ValueError, OSError, RuntimeError):
                folders[parent] = None
        folder = folders[parent]
        relative = path.name if folder in (None, ".") else f"{folder}/{path.name}"
        suffix = "/" if is_dir else ""
        return bool(spec.match_file(relative + suffix))

    return excluded


def _nothing_excluded(path: Path, is_dir: bool) -> bool:
    return False


def display_path(path: Path, cwd: Optional[Path] = None) -> str:
    """Relative to the working folder when below it, as ruff and flake8 print paths."""
    cwd = cwd or Path.cwd()
    try:
        return (path if path.is_absolute() else cwd / path).relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


GLOB_CACHE: Dict[Tuple[str, ...], Patterns] = {}


def glob_spec(patterns: Tuple[str, ...]) -> Patterns:
    if patterns not in GLOB_CACHE:
        GLOB_CACHE[patterns] = Patterns.from_lines(patterns)
    return GLOB_CACHE[patterns]
