"""The README is the newcomer's manual: its options table and its rules table must say what the
tool really does, so they are checked against the parser and the catalogue."""

import re

from conftest import REPO

from asyncreview.cli import build_parser
from asyncreview.ruletable import markdown, rows

README = (REPO / "README.md").read_text(encoding="utf-8")


def _options_table():
    """{option: group heading} from the README's options table (bold rows open a group)."""
    section = README[README.index("| option | meaning |"):]
    section = section[: section.index("\n\n")]
    table, group = {}, None
    for line in section.splitlines()[2:]:
        first = line.split(" | ")[0].lstrip("| ").strip()
        if first.startswith("**"):
            group = first.strip("*").split("**")[0].strip()
            continue
        for option in re.findall(r"`(-{1,2}[a-z][a-z-]*)", first):
            table[option] = group
    return table


def _parser_options():
    """{option: group title} for every option the parser accepts, but -h/--help."""
    parser = build_parser()
    found = {}
    for group in parser._action_groups:
        for action in group._group_actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    found[option] = group.title
    return found


def test_the_options_table_lists_exactly_the_options_of_help():
    documented, accepted = _options_table(), _parser_options()
    assert sorted(set(accepted) - set(documented)) == [], "options missing from the README"
    assert sorted(set(documented) - set(accepted)) == [], "README options the parser does not know"


def test_the_options_table_groups_options_as_help_does():
    documented = _options_table()
    for option, title in _parser_options().items():
        group = documented[option]
        if title == "options":  # argparse's own group: listed before any heading
            assert group is None, option
        else:
            assert group is not None and title.lower().startswith(group.lower()), (option, title, group)


def test_every_option_has_help_text():
    parser = build_parser()
    assert [a.option_strings for a in parser._actions if a.option_strings and not a.help] == []


def test_the_rules_table_is_the_catalogue():
    start = README.index("<!-- rules-table:start -->\n") + len("<!-- rules-table:start -->\n")
    end = README.index("<!-- rules-table:end -->")
    assert README[start:end] == markdown(), "run `python -m asyncreview.ruletable` and paste it into the README"


def test_the_rules_table_has_every_registered_code_once():
    from asyncreview.plugins import all_codes

    codes = [row[0] for row in rows()]
    assert codes == sorted(set(codes)) == all_codes()
    assert {row[2] for row in rows()} <= {"CRITICAL", "WARNING", "SUGGESTION"}


def test_the_first_command_and_what_its_exit_status_means_are_side_by_side():
    head = README.split("## Usage")[0]
    run = head.index("pip install . && asyncreview examples/")
    explained = head.index("exits with status **1**")
    assert 0 < explained - run < 200
