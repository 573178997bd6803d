"""Tests for Docker's timestamp formats."""

from datetime import UTC, datetime

import pytest

from engine.timefmt import ZERO_TIME, parse_rfc3339, rfc3339_nano


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_000_000_000, "1970-01-01T00:00:01Z"),
        (1_500_000_000, "1970-01-01T00:00:01.5Z"),
        (1_000_000_001, "1970-01-01T00:00:01.000000001Z"),
        (1_120_000_000, "1970-01-01T00:00:01.12Z"),
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789Z"),
        (1_700_000_000_100_000_000, "2023-11-14T22:13:20.1Z"),
    ],
)
def test_rfc3339_nano_trims_like_go(ns: int, expected: str) -> None:
    assert rfc3339_nano(ns=ns) == expected


def test_rfc3339_nano_from_float_seconds() -> None:
    assert rfc3339_nano(1_700_000_000.0) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(86_400.25) == "1970-01-02T00:00:00.25Z"


def test_rfc3339_nano_defaults_to_now() -> None:
    before = datetime.now(UTC).timestamp()
    stamp = parse_rfc3339(rfc3339_nano())
    assert before - 1 <= stamp <= datetime.now(UTC).timestamp() + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000.123456789),
        ("2023-11-15T00:13:20.25+02:00", 1_700_000_000.25),
        ("2023-11-14T17:13:20-05:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # no zone: UTC
    ],
)
def test_parse_rfc3339(text: str, expected: float) -> None:
    assert parse_rfc3339(text) == pytest.approx(expected, abs=1e-6)


def test_parse_rfc3339_keeps_sub_microsecond_digits() -> None:
    assert parse_rfc3339("2023-11-14T22:13:20.000000900Z") - 1_700_000_000 == pytest.approx(
        9e-7, abs=3e-7
    )


def test_parse_rfc3339_round_trips_rfc3339_nano() -> None:
    ns = 1_700_000_000_250_000_000
    assert parse_rfc3339(rfc3339_nano(ns=ns)) == pytest.approx(ns / 1e9)


def test_parse_rfc3339_empty_is_zero() -> None:
    assert parse_rfc3339("") == 0.0


def test_parse_rfc3339_zero_time_is_before_epoch() -> None:
    assert parse_rfc3339(ZERO_TIME) < 0
