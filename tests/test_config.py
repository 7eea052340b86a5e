import datetime

import pytest

from asyncreview.config import (
    default_target,
    highest_admitted,
    lowest_admitted,
    parse_version,
    resolve_selection,
)


@pytest.mark.parametrize(
    "spec, lowest",
    [
        (">=3.8", (3, 8)),
        ("~=3.10", (3, 10)),
        (">=3.9,<4", (3, 9)),
        (">3.8", (3, 8)),  # 3.8.1 is admitted
        (">=3.8.1", (3, 8)),
        ("==3.11.*", (3, 11)),
        ("!=3.9.*,>=3.9", (3, 10)),
        (">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*", (3, 6)),
        ("<3", None),
    ],
)
def test_lowest_admitted(spec, lowest):
    assert lowest_admitted(spec) == lowest


def test_highest_admitted_has_no_upper_bound_by_default():
    assert highest_admitted(">=3.9") == (3, 14)
    assert highest_admitted(">=3.9,<3.12") == (3, 11)
    assert highest_admitted(None) == (3, 14)


@pytest.mark.parametrize("bad", ["banana", "3", "2.7", "py2"])
def test_parse_version_rejects(bad):
    with pytest.raises(ValueError):
        parse_version(bad)


def test_parse_version_accepts_ruff_spellings():
    assert parse_version("py310") == (3, 10)
    assert parse_version("3.12") == (3, 12)


def test_default_target_follows_end_of_life_dates():
    assert default_target(datetime.date(2025, 6, 1)) == (3, 9)
    assert default_target(datetime.date(2025, 11, 1)) == (3, 10)
    assert default_target(datetime.date(2026, 11, 24)) == (3, 11)


def test_most_specific_selector_wins():
    codes = ["ARV001", "ARV101", "ARV102", "ARV201"]
    assert resolve_selection(codes, None, [], []) == set(codes)
    assert resolve_selection(codes, ["ARV1"], [], ["ARV102"]) == {"ARV001", "ARV101"}
    assert resolve_selection(codes, ["ARV101"], [], ["ARV1"]) == {"ARV001", "ARV101"}
    assert resolve_selection(codes, None, [], ["ARV0"]) == {"ARV101", "ARV102", "ARV201"}
