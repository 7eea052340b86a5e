"""ARV4xx beyond the documented examples: every entry of the retry tables, the suggested narrow
alternative per library, the real CLI (JSON, severities, noqa, prefilter, bad input) and dogfood."""

import json
import textwrap

import pytest

from asyncreview.catalogue import load_table
from asyncreview.checks.retry import RULES
from asyncreview.engine import admitted_rules
from asyncreview.testing import findings_for, settings_for

HELPERS = load_table("retry", "helpers")["helpers"]
KEYWORDS = load_table("retry", "helpers")["keywords"]
EXCEPTIONS = load_table("retry", "exceptions")
TRANSIENT = EXCEPTIONS["transient"]


def findings(source, **options):
    return findings_for(textwrap.dedent(source), RULES, **options)


def codes(source):
    return sorted((f.line, f.code) for f in findings(source))


def _spelling(name):
    """`import a.b` + `a.b.c` for a qualified name."""
    module = name.rsplit(".", 1)[0]
    return f"import {module}\n", name


def _call(name, entry, value):
    """A call of the helper that passes `value` as its exception argument, positionally when
    the table says it may be, by keyword otherwise."""
    if entry.get("position", -1) >= 0 and value is not None:
        fillers = ["None"] * entry["position"]
        return f"{name}({', '.join(fillers + [value])})"
    if value is None:
        return f"{name}()"
    return f"{name}({entry['argument']}={value})"


BROAD = {"types": "Exception", "inverted": "ValueError", "predicate": "lambda error: True"}
NARROW = {"types": "ConnectionError", "inverted": "Exception", "predicate": "lambda error: isinstance(error, ConnectionError)"}


SPELLINGS = [
    (name, positional)
    for name in sorted(HELPERS)
    if HELPERS[name]["kind"] != "policy"
    for positional in ([False, True] if HELPERS[name]["position"] >= 0 else [False])
]


@pytest.mark.parametrize("name, positional", SPELLINGS, ids=[f"{n}-{'positional' if p else 'keyword'}" for n, p in SPELLINGS])
def test_every_helper_with_a_broad_argument_is_flagged(name, positional):
    entry = dict(HELPERS[name])
    if not positional:
        entry["position"] = -1
    imports, spelled = _spelling(name)
    source = f"{imports}policy = {_call(spelled, entry, BROAD[entry['kind']])}\n"
    found = findings(source)
    assert [(f.line, f.code) for f in found] == [(2, "ARV401")], source
    assert name in found[0].message


@pytest.mark.parametrize("name", sorted(n for n in HELPERS if HELPERS[n]["kind"] != "policy"))
def test_every_helper_with_a_narrow_argument_is_clean(name):
    entry = HELPERS[name]
    imports, spelled = _spelling(name)
    source = f"{imports}policy = {_call(spelled, entry, NARROW[entry['kind']])}\n"
    assert codes(source) == [], source


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_a_missing_argument_is_flagged_exactly_when_the_default_is_everything(name):
    entry = HELPERS[name]
    imports, spelled = _spelling(name)
    source = f"{imports}policy = {spelled}()\n"
    expected = [(2, "ARV401")] if entry["default"] == "everything" else []
    assert codes(source) == expected, source
    if entry.get("bare"):
        bare = f"{imports}@{spelled}\ndef work():\n    pass\n"
        assert codes(bare) == [(2, "ARV401")]


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_every_helper_resolves_through_a_from_import_alias(name):
    entry = HELPERS[name]
    module, _, attribute = name.rpartition(".")
    value = BROAD.get(entry["kind"])
    source = f"from {module} import {attribute} as helper_alias\npolicy = {_call('helper_alias', entry, value)}\n"
    if entry["kind"] == "policy":
        assert codes(source) == [(2, "ARV401")]
        assert codes(source.replace("()", "(retry=custom)")) == []
    else:
        assert codes(source) == [(2, "ARV401")], source


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_every_keyword_is_judged_whatever_the_callee(keyword):
    flagged = f"@app.task({keyword}=(ConnectionError, Exception))\ndef job():\n    pass\n"
    clean = f"@app.task({keyword}=(ConnectionError,))\ndef job():\n    pass\n"
    assert codes(flagged) == [(1, "ARV401")]
    assert codes(clean) == []


@pytest.mark.parametrize("entry", TRANSIENT, ids=[e["imports"][0] for e in TRANSIENT])
def test_the_suggestion_names_the_transient_errors_of_the_imported_library(entry):
    library = entry["imports"][0]
    source = f"import {library}\nimport stamina\n\n@stamina.retry(on=Exception)\nasync def work():\n    pass\n"
    [finding] = findings(source)
    assert f"stamina.retry(on=({entry['types'][0]}, " in finding.message or f"on={entry['types'][0]})" in finding.message


def test_without_a_known_library_the_suggestion_is_the_builtin_transient_errors():
    [finding] = findings("import stamina\n\n@stamina.retry(on=Exception)\ndef work():\n    pass\n")
    assert "(ConnectionError, asyncio.TimeoutError)" in finding.message
    assert "retries on `Exception`" in finding.message
    assert "TypeError or KeyError" in finding.message


def _loop(catch, imports="", asynchronous=True):
    prefix = "async " if asynchronous else ""
    awaiting = "await " if asynchronous else ""
    return (
        f"import asyncio\n{imports}"
        f"{prefix}def work(client):\n"
        f"    for attempt in range(3):\n"
        f"        try:\n"
        f"            return {awaiting}client.get()\n"
        f"        except {catch}:\n"
        f"            {awaiting}asyncio.sleep(1)\n"
    )


@pytest.mark.parametrize("name", EXCEPTIONS["broad"]["names"])
@pytest.mark.parametrize("asynchronous", [True, False], ids=["coroutine", "function"])
def test_every_broad_name_makes_a_retry_loop_broad(name, asynchronous):
    imports = "import builtins\n" if name.startswith("builtins.") else ""
    code = "ARV404" if asynchronous and name in EXCEPTIONS["broad"]["catches-cancellation"] else "ARV403"
    line = 7 if imports else 6
    assert codes(_loop(name, imports, asynchronous)) == [(line, code)]
    assert codes(_loop(f"(OSError, {name})", imports, asynchronous)) == [(line, code)]


@pytest.mark.parametrize("name", EXCEPTIONS["cancellation"]["names"])
def test_every_cancellation_name_is_swallowed_by_a_retrying_coroutine(name):
    imports = f"import {name.rsplit('.', 1)[0]}\n"
    assert codes(_loop(name, imports)) == [(7, "ARV404")]
    reraised = _loop(name, imports).replace(f"        except {name}:", f"        except {name}:\n            raise\n        except OSError:")
    assert codes(reraised) == []


@pytest.mark.parametrize("suffix", EXCEPTIONS["sleep"]["suffixes"])
def test_every_sleep_suffix_counts_as_waiting(suffix):
    source = (
        "async def work(client):\n"
        "    while True:\n"
        "        try:\n"
        "            return await client.get()\n"
        "        except Exception:\n"
        f"            await client.{suffix}(1)\n"
    )
    assert codes(source) == [(5, "ARV403")]
    assert codes(source.replace(f"await client.{suffix}(1)", "client.log()")) == []


@pytest.mark.parametrize("parameter", EXCEPTIONS["homemade"]["parameters"])
def test_every_homemade_parameter_name_with_a_broad_default(parameter):
    assert codes(f"def with_retry(fn, {parameter}=(Exception,)):\n    return fn\n") == [(1, "ARV402")]
    assert codes(f"def with_retry(fn, {parameter}=(ConnectionError,)):\n    return fn\n") == []
    # a function neither named like a retry helper nor waiting in a loop is not one
    assert codes(f"def handle(fn, {parameter}=(Exception,)):\n    return fn\n") == []


@pytest.mark.parametrize("word", EXCEPTIONS["homemade"]["words"])
def test_every_retry_word_names_a_helper(word):
    body = "    try:\n        return fn()\n    except exceptions:\n        time.sleep(1)\n        return fn()\n"
    source = f"import time\n\ndef call_{word}(fn, exceptions=Exception):\n{body}"
    assert codes(source) == [(3, "ARV402")]
    assert codes(source.replace(f"call_{word}", "handle")) == []


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_every_helper_passes_the_prefilter(name):
    """Every spelling of a table helper contains a prefilter word, so no file using one is
    skipped unparsed."""
    settings = settings_for(RULES)
    module, _, attribute = name.rpartition(".")
    assert admitted_rules(f"from {module} import {attribute}".encode(), tuple(RULES), settings) == tuple(RULES)
    assert admitted_rules(name.encode(), tuple(RULES), settings) == tuple(RULES)


def test_messages_name_the_policy_the_reason_and_the_alternative():
    [finding] = findings(
        """
        import aiohttp
        from tenacity import retry

        @retry
        async def fetch(session):
            return await session.get("/")
        """
    )
    assert finding.code == "ARV401"
    assert "`tenacity.retry` without `retry=` retries on every exception (tenacity's default)" in finding.message
    assert "retry=retry_if_exception_type((aiohttp.ClientConnectionError, asyncio.TimeoutError))" in finding.message


def test_odd_input_does_not_crash_the_rule():
    source = """
    import asyncio
    import backoff
    from tenacity import retry_if_exception_type, retry_if_exception

    A = B
    B = A
    C = (C,)
    D = D + (Exception,)
    TYPES = [ConnectionError]

    p1 = backoff.on_exception(backoff.expo, A)
    p2 = retry_if_exception_type(*TYPES)
    p3 = retry_if_exception(lambda: True)
    p4 = retry_if_exception(print)
    p5 = backoff.on_exception(backoff.expo, C)
    p6 = backoff.on_exception(backoff.expo, D)

    async def work(client):
        while True:
            try:
                return await client.get()
            except* Exception:
                await asyncio.sleep(1)
    """
    found = findings(source, target="3.11")
    assert [f.code for f in found if f.code.startswith("ARV00")] == []
    # a lambda answering True is flagged whatever its parameters; D's own broad half is seen
    # through the self-reference; `except*` (TryStar) is not judged as a retry loop
    assert sorted(f.line for f in found) == [14, 17]


def test_cli_reports_json_with_severities_and_honours_noqa(cli, project):
    project.write(
        "app.py",
        """
        import asyncio
        import backoff

        @backoff.on_exception(backoff.expo, Exception)
        async def fetch(client):
            return await client.get()

        @backoff.on_exception(backoff.expo, Exception)  # noqa: ARV401
        async def known(client):
            return await client.get()

        async def consume(queue):
            while True:
                try:
                    return await queue.get()
                except BaseException:
                    await asyncio.sleep(1)
        """,
    )
    result = cli("--select", "ARV4", "--format", "json", "--no-cache", project.root)
    assert result.code == 1, result.err
    report = result.json()
    rows = sorted((f["line"], f["code"], f["severity"]) for f in report["findings"])
    assert rows == [(4, "ARV401", "WARNING"), (16, "ARV404", "CRITICAL")]
    assert "Traceback" not in result.err


def test_cli_prefilter_skips_files_that_cannot_retry_and_reports_bad_input(cli, project):
    # a retry word alone is not enough: nothing in plain.py could be reported
    project.write("plain.py", "def retry_broken(:\n    pass\n")
    project.write("retrying.py", "from tenacity import retry\n\ndef broken(:\n    pass\n")
    project.write("latin.py", b"# retry\nx = '\xff\xfe'\n")
    result = cli("--select", "ARV001,ARV002,ARV4", "--format", "json", "--no-cache", project.root)
    assert "Traceback" not in result.err
    paths = sorted((f["path"].rsplit("/", 1)[-1], f["code"]) for f in result.json()["findings"])
    # plain.py never matches the prefilter, so it is not parsed and cannot report its syntax error
    assert ("plain.py", "ARV001") not in paths
    assert ("retrying.py", "ARV001") in paths


def test_dogfood_asyncreview_is_clean(cli):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = cli("--select", "ARV4", "--no-cache", "asyncreview/", cwd=root)
    assert result.code == 0, result.out + result.err


def test_config_extends_the_helper_table_through_the_cli(cli, project):
    project.write(
        "pyproject.toml",
        """
        [tool.asyncreview]
        select = ["ARV4"]
        extend-retry-helpers = {"ourlib.resilient" = {argument = "on", position = 0, default = "everything", bare = true}}
        """,
    )
    project.write(
        "app.py",
        """
        from ourlib import resilient

        @resilient
        async def a(client):
            return await client.get()

        @resilient((ConnectionError, Exception))
        async def b(client):
            return await client.get()

        @resilient(on=ConnectionError)
        async def c(client):
            return await client.get()
        """,
    )
    result = cli("--format", "json", "--no-cache", project.root / "app.py", cwd=project.root)
    assert result.code == 1, result.err
    findings = result.json()["findings"]
    assert sorted((f["line"], f["code"]) for f in findings) == [(3, "ARV401"), (7, "ARV401")]
    assert "on=(ConnectionError, asyncio.TimeoutError)" in findings[0]["message"]


@pytest.mark.parametrize(
    "value",
    [
        ["ourlib.retry"],
        {"ourlib.retry": "exceptions"},
        {"ourlib.retry": {"argument": "exceptions", "kind": "sometimes"}},
        {"ourlib.retry": {"argument": "exceptions", "default": "maybe"}},
        {"ourlib.retry": {"argument": "exceptions", "fix": "{nope}"}},
        {"noqualifier": {"argument": "exceptions"}},
    ],
)
def test_bad_helper_extensions_are_one_diagnostic_not_a_traceback(cli, project, value):
    project.write("pyproject.toml", "[tool.asyncreview]\nextend-retry-helpers = " + _toml(value) + "\n")
    project.write("app.py", "import ourlib\n\n@ourlib.retry\ndef f():\n    pass\n")
    result = cli("--select", "ARV4", "--no-cache", project.root / "app.py", cwd=project.root)
    assert "Traceback" not in result.err
    assert "extend-retry-helpers" in result.out + result.err
    assert result.code != 0


def _toml(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)
