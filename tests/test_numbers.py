"""engine/core/numbers.py: every typed integer is read the same way (issue #13)."""
import pytest

from engine.core.numbers import SQLITE_MAX_INT, is_whole, parse_run_id, parse_whole
from engine.core.params import ParamError


@pytest.mark.parametrize("text, value", [("0", 0), ("42", 42), ("-3", -3), ("007", 7),
                                         (str(SQLITE_MAX_INT), SQLITE_MAX_INT), (5, 5)])
def test_plain_ascii_whole_numbers_are_read(text, value):
    assert parse_whole(text, "x", low=None) == value


@pytest.mark.parametrize("text", ["²", "¹", "٣", "1_000", " 7", "7 ", "1e3", "3.0", "", "+4", "0x10",
                                  "inf", None, True, 2.0, "9" * 41])
def test_anything_else_is_refused_with_a_message(text):
    with pytest.raises(ParamError, match="x must be a whole number"):
        parse_whole(text, "x", low=None)
    assert not is_whole(text)


def test_the_range_is_checked_and_stated():
    with pytest.raises(ParamError, match=r"^k must be between 1 and 10; got -5$"):
        parse_whole("-5", "k", low=1, high=10)
    with pytest.raises(ParamError, match=r"^k must be at least 1; got 0$"):
        parse_whole("0", "k", low=1, high=None)


def test_a_run_id_beyond_sqlite_is_a_message_not_an_overflow():
    with pytest.raises(ParamError, match="a run id must be between 1 and 9223372036854775807; got 99999999999999999999"):
        parse_run_id("99999999999999999999")
    with pytest.raises(ParamError, match="a run id must be a whole number, not '²'"):
        parse_run_id("²")
    assert parse_run_id("12") == 12


def test_below_an_open_range_says_at_least():
    """Input: run id 0 (the range's top is only SQLite's limit, so the message names the bottom)."""
    with pytest.raises(ParamError, match=r"^a run id must be at least 1; got 0$"):
        parse_run_id("0")
