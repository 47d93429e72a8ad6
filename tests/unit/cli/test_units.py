"""Sizes, durations and timestamps as docker's CLI prints and parses them."""

from __future__ import annotations

import pytest

from skiff.cli.units import bytes_size, get_timestamp, human_duration, human_size, parse_go_duration


def test_sizes() -> None:
    assert human_size(0) == "0B"
    assert human_size(999) == "999B"
    assert human_size(1234567) == "1.235MB"
    assert human_size(1234567, 3) == "1.23MB"
    assert bytes_size(25276936192) == "23.54GiB"


@pytest.mark.parametrize(("secs", "want"), [
    (0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (600, "10 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(secs: float, want: str) -> None:
    assert human_duration(secs) == want


def test_timestamps() -> None:
    assert get_timestamp("10m", now=1000.7) == "400"  # whole seconds, as docker's GetTimestamp
    assert get_timestamp("1h30m", now=10000.0) == "4600"
    assert get_timestamp("1700000000") == "1700000000"
    assert get_timestamp("1700000000.5") == "1700000000.5"
    assert get_timestamp("2024-01-01T00:00:00Z") == "1704067200.000000000"
    assert get_timestamp("2024-01-01T02:00:00+02:00") == "1704067200.000000000"
    with pytest.raises(ValueError, match="failed to parse value as time or duration"):
        get_timestamp("x")
    assert parse_go_duration("300ms") == pytest.approx(0.3)
    assert parse_go_duration("abc") is None
