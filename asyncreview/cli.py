"""`asyncreview [options] PATH...` in the ruff tradition. Exit 0 clean, 1 findings at or above
--fail-on, 2 usage, config or internal error (never 1 for a crash: CI must tell the two apart)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

from asyncreview import __version__
from asyncreview.untrusted import one_line

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(text: str) -> List[str]:
    return [part.strip().upper() for part in text.split(",") if part.strip()]


def _append_codes(parser_value: Optional[List[str]], text: str) -> List[str]:
    return (parser_value or []) + _codes(text)


def _byte_count(text: str) -> int:
    from asyncreview.config import byte_count

    try:
        return byte_count(int(text) if text.isascii() and text.isdigit() else text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}, got {text!r}") from None


class _Codes(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, _append_codes(getattr(namespace, self.dest), values))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asyncreview",
        description="Review Python asyncio code: version compatibility, blocking calls, missing "
        "context managers and broad retry policies.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--version", action="version", version=f"asyncreview {__version__}")
    rules = parser.add_argument_group("rule selection")
    rules.add_argument("--select", action=_Codes, metavar="CODES", help="comma-separated codes or prefixes to enable (replaces config)")
    rules.add_argument("--extend-select", action=_Codes, default=[], metavar="CODES", help="codes or prefixes to enable in addition")
    rules.add_argument("--ignore", action=_Codes, default=[], metavar="CODES", help="codes or prefixes to disable")
    rules.add_argument("--target-version", metavar="VERSION", help="lowest Python the project supports, e.g. 3.10")
    output = parser.add_argument_group("output")
    output.add_argument("--format", default="text", help="text (default), json, sarif, github or markdown; plugins may add more")
    output.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE")
    output.add_argument("--report", action="append", default=[], metavar="FORMAT=FILE", help="also write a FORMAT report to FILE (repeatable; one run, several reports)")
    output.add_argument("--statistics", action="store_true", help="count findings per rule")
    output.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    output.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="colour the text report (auto: on a terminal, unless NO_COLOR or TERM=dumb)")
    result = parser.add_argument_group("exit status")
    result.add_argument("--fail-on", metavar="SEVERITY", help="critical, warning or suggestion (default: any finding)")
    result.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", help="apply safe fixes in place, then report what remains")
    fixing.add_argument("--unsafe-fixes", action="store_true", help="with --fix, --fix-only or --diff: apply unsafe fixes too")
    fixing.add_argument("--diff", action="store_true", help="print the fixes as a unified diff and change nothing (exit 1 when there is one)")
    fixing.add_argument("--fix-only", action="store_true", help="apply fixes in place and report no findings (exit 0)")
    run = parser.add_argument_group("run")
    run.add_argument("--config", type=Path, metavar="FILE", help="use this pyproject.toml for every file")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    run.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: all cores)")
    run.add_argument("--force-exclude", action="store_true", help="apply excludes to files named on the command line too")
    run.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", help="analyze files that .gitignore ignores too")
    run.add_argument("--max-file-size", type=_byte_count, metavar="BYTES", help="skip larger files with ARV004 (default: config, else 5 MiB)")
    adopt = parser.add_argument_group("adoption and pull requests")
    adopt.add_argument("--diff-base", metavar="REF", help="report only findings on lines changed since git REF (its merge base with HEAD)")
    adopt.add_argument("--baseline", type=Path, metavar="FILE", help="hide the known findings recorded in FILE")
    adopt.add_argument("--write-baseline", type=Path, metavar="FILE", help="record every current finding in FILE and exit 0")
    adopt.add_argument("--pr-review", action="store_true", help="post the findings on changed lines as one pull-request review (GITHUB_TOKEN)")
    llm = parser.add_argument_group("LLM review (needs ANTHROPIC_API_KEY)")
    llm.add_argument("--llm", action="store_true", help="have Claude review each finding (cached, rate-limited)")
    llm.add_argument("--llm-batch", action="store_true", help="review through the Message Batches API (half price, slower)")
    llm.add_argument("--no-wait", action="store_true", help="with --llm-batch: submit the batch and exit; a later --llm-batch run collects it")
    llm.add_argument("--verbose", "-v", action="store_true", help="print each failed LLM request, retry and rejected answer (the key is redacted)")
    llm.add_argument("--show-refuted", action="store_true", help="show findings the reviewer refuted and count them for the exit code")
    llm.add_argument("--cache-stats", action="store_true", help="print the caches' size and exit")
    llm.add_argument("--clear-cache", action="store_true", help="empty the caches and exit")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("asyncreview: interrupted", file=sys.stderr)
        return 130
    except _UsageError as error:
        print(f"asyncreview: error: {one_line(error)}", file=sys.stderr)  # may quote a path or a file
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - a crash is exit 2 and its cause, not a traceback that ends in 1
        from asyncreview.finding import describe_error

        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"asyncreview: internal error: {one_line(describe_error(error))}", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """The `asyncreview` command: main(), then out without tearing the interpreter down. Freeing
    every module and object at exit (LibCST's node classes among them) took ~30 ms, a tenth of a
    run on one file. By then the run has closed its caches and its pool; the output is flushed
    here. An exception out of main() still ends the ordinary way, with its traceback."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)


class _UsageError(Exception):
    pass


def _use_color(choice: str, stream) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _run(args: argparse.Namespace) -> int:
    if args.cache_stats or args.clear_cache:
        from asyncreview.llm.stage import cache_command

        return cache_command(clear=args.clear_cache)
    from asyncreview import pipeline, plugins
    from asyncreview.config import ConfigError, Overrides, parse_version
    from asyncreview.finding import Severity
    from asyncreview.reporters import ReportContext

    overrides = Overrides(select=args.select, extend_select=args.extend_select, ignore=args.ignore)
    try:
        if args.target_version:
            overrides.target_version = parse_version(args.target_version)
        if args.fail_on:
            overrides.fail_on = Severity.parse(args.fail_on)
    except ValueError as error:
        raise _UsageError(str(error)) from None
    if args.jobs is not None and args.jobs < 1:
        raise _UsageError("--jobs must be at least 1")
    if args.no_wait and not args.llm_batch:
        raise _UsageError("--no-wait goes with --llm-batch (it leaves the batch for a later run to collect)")
    if args.no_wait and args.no_cache:
        raise _UsageError("--no-wait needs the cache: the batch id is kept there for the run that collects it")
    if args.config is not None and not args.config.is_file():
        raise _UsageError(f"--config {args.config}: no such file")
    try:
        reporters = plugins.reporters()
    except Exception as error:  # noqa: BLE001 - a broken plugin is a setup error, not a crash
        raise _UsageError(f"cannot load plugins: {error}") from None
    if args.format not in reporters:
        raise _UsageError(f"unknown --format {args.format!r} (choose from {', '.join(sorted(reporters))})")
    extra_reports = []
    for spec in args.report:
        name, _, target = spec.partition("=")
        if name not in reporters or not target:
            raise _UsageError(f"--report {spec!r}: expected FORMAT=FILE with FORMAT one of {', '.join(sorted(reporters))}")
        extra_reports.append((name, Path(target)))

    options = pipeline.RunOptions(
        paths=args.paths or [Path(".")],
        overrides=overrides,
        config_file=args.config,
        use_cache=not args.no_cache,
        jobs=args.jobs,
        force_exclude=args.force_exclude,
        respect_gitignore=args.respect_gitignore,
        max_file_size=args.max_file_size,
    )
    fixing = args.fix or args.fix_only or args.diff
    if fixing and (args.diff_base or args.baseline or args.write_baseline):
        raise _UsageError("--fix, --fix-only and --diff cannot be combined with --diff-base, --baseline or --write-baseline")
    outcome = None
    try:
        if fixing:
            from asyncreview import fixing as fixer

            outcome = fixer.fix_to_fixed_point(options, unsafe=args.unsafe_fixes)
            result = outcome.result
        else:
            result = pipeline.run(options)
    except ConfigError as error:
        raise _UsageError(str(error)) from None
    if outcome is not None and (args.diff or args.fix_only):
        return _fix_without_report(args, outcome, result)
    fix_summary = ""
    if outcome is not None:
        failed = _Failures(result.internal_errors)
        with failed("writing the fixed files"):
            _write_fixed(outcome, result)
        fix_summary = fixer.summary(outcome, args.unsafe_fixes)
    # From here on the findings are known: a stage that crashes is reported and the run goes on,
    # so the report of what was found is still written (and the run ends with exit status 2).
    failed = _Failures(result.internal_errors)
    if args.write_baseline or args.baseline or args.diff_base:
        from asyncreview import diffmode

        try:
            if args.write_baseline:
                count = diffmode.write_baseline(result.findings, args.write_baseline)
                print(f"asyncreview: wrote {count} finding{'s' if count != 1 else ''} to baseline {one_line(str(args.write_baseline))}", file=sys.stderr)
                return _finish(result, EXIT_CLEAN)
        except diffmode.DiffError as error:
            raise _UsageError(str(error)) from None
        with failed("applying --baseline/--diff-base"):
            try:
                result.notices.extend(diffmode.apply(result, diff_base=args.diff_base, baseline=args.baseline))
            except diffmode.DiffError as error:
                raise _UsageError(str(error)) from None
    from asyncreview.llm import stage as llm_stage

    try:
        llm_table = llm_stage.llm_table(options.paths, args.config)
    except ConfigError as error:
        raise _UsageError(str(error)) from None
    if llm_stage.wanted(args.llm or args.llm_batch, llm_table):
        with failed("in the LLM review"):
            result.notices.extend(llm_stage.run_stage(
                result, llm_table, batch=args.llm_batch, wait=not args.no_wait, use_cache=not args.no_cache, verbose=args.verbose
            ))
        if args.fix and args.unsafe_fixes:
            with failed("applying the reviewer's verified fixes"):
                _apply_reviewer_fixes(result)

    docs = {}
    for rule in plugins.all_rules():
        with failed(f"reading the documentation of {rule.__name__}"):
            docs.update(rule.docs())
    stream = sys.stdout
    context = ReportContext(
        result=result,
        docs=docs,
        color=args.output is None and _use_color(args.color, stream),
        statistics=args.statistics,
        quiet=args.quiet,
        show_refuted=args.show_refuted,
        fix_summary=fix_summary,
        unsafe_fixes=args.unsafe_fixes,
    )
    if fix_summary and args.format != "text":
        print(f"asyncreview: {fix_summary}", file=sys.stderr)
    if not args.quiet:
        for notice in result.notices:
            print(f"asyncreview: {one_line(notice)}", file=sys.stderr)
    report = None
    with failed(f"in the {args.format} reporter"):
        report = reporters[args.format](context)
    unwritable = []
    for name, target in extra_reports:
        with failed(f"in the {name} reporter"):
            try:
                target.write_text(reporters[name](dataclasses.replace(context, color=False)), encoding="utf-8")
            except OSError as error:
                unwritable.append(f"cannot write {target}: {error.strerror}")
    if report is not None and args.output is not None:  # None: its reporter crashed, the others wrote theirs
        try:
            args.output.write_text(report, encoding="utf-8")
        except OSError as error:
            unwritable.append(f"cannot write {args.output}: {error.strerror}")
    elif report is not None:
        stream.write(report)
        stream.flush()
    if unwritable:
        raise _UsageError("; ".join(unwritable))
    if args.pr_review:
        from asyncreview import github_review

        with failed("posting the pull-request review"):
            github_review.post_from_cli(result, docs, show_refuted=args.show_refuted)
    return _finish(result, pipeline.exit_code(result, exit_zero=args.exit_zero, show_refuted=args.show_refuted))


def _write_fixed(outcome, result) -> None:
    """Each changed file once, atomically; a file that cannot be written is an error of the run."""
    from asyncreview.fixing import write_atomically

    for shown, data in outcome.after.items():
        try:
            write_atomically(result.locations[shown], data)
        except OSError as error:
            result.internal_errors.append(f"cannot write the fixed {shown}: {error.strerror or error}")


def _apply_reviewer_fixes(result) -> None:
    """--fix --unsafe-fixes with --llm: the reviewer's verified fixes come after the rules' own
    (the stage reviews what the rules left), each file written once; a fixed finding leaves the report."""
    from asyncreview.fixing import apply_fixes, write_atomically

    by_path: Dict[str, list] = {}
    for finding in result.findings:
        if finding.fix is not None and (finding.review or {}).get("fix_verified"):
            by_path.setdefault(finding.path, []).append(finding)
    fixed = set()
    for shown, findings in by_path.items():
        location = result.locations[shown]
        try:
            data, applied, _ = apply_fixes(location.read_bytes(), findings)
            if applied:
                write_atomically(location, data)
        except OSError as error:
            result.internal_errors.append(f"cannot write the fixed {shown}: {error.strerror or error}")
            continue
        fixed.update(id(finding) for finding in applied)
    if fixed:
        result.findings = [finding for finding in result.findings if id(finding) not in fixed]
        noun = "finding" if len(fixed) == 1 else "findings"
        result.notices.append(f"applied the LLM reviewer's verified fix to {len(fixed)} {noun}")


def _fix_without_report(args: argparse.Namespace, outcome, result) -> int:
    """--diff: the diff on stdout, nothing written, exit 1 when there is one. --fix-only: the
    files written, only the count said, exit 0 (unless something broke)."""
    from asyncreview import fixing as fixer

    noun = "finding" if outcome.fixed == 1 else "findings"
    if args.diff:
        text = "".join(fixer.unified_diff(shown, outcome.before[shown], data) for shown, data in sorted(outcome.after.items()))
        sys.stdout.write(text)
        sys.stdout.flush()
        if not args.quiet:
            print(f"asyncreview: would fix {outcome.fixed} {noun}", file=sys.stderr)
        return _finish(result, EXIT_FINDINGS if outcome.after else EXIT_CLEAN)
    failed = _Failures(result.internal_errors)
    with failed("writing the fixed files"):
        _write_fixed(outcome, result)
    if not args.quiet:
        print(f"asyncreview: fixed {outcome.fixed} {noun}", file=sys.stderr)
    return _finish(result, EXIT_CLEAN)


class _Failures:
    """`with failed("while doing X"):` records an exception as one line in `errors` and goes on."""

    def __init__(self, errors: List[str]) -> None:
        self.errors = errors
        self.during = ""

    def __call__(self, during: str) -> "_Failures":
        self.during = during
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, trace) -> bool:
        if error is None or not isinstance(error, Exception) or isinstance(error, _UsageError):
            return False
        from asyncreview.finding import describe_error

        self.errors.append(f"internal error {self.during}: {describe_error(error)}")
        return True


def _finish(result, status: int) -> int:
    """The run's status, and for an internal error its cause in one line on stderr."""
    errors = result.internal_errors
    if not errors:
        return status
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    print(f"asyncreview: {one_line(errors[0])}{more}", file=sys.stderr)  # may quote a file's path
    return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    entry()
