"""engine.build.durations against the tables of Go's ``time`` tests (ParseDuration and
Duration.String), which HEALTHCHECK's flags and history text follow."""

from __future__ import annotations

import re

import pytest

from engine.build.durations import format_duration, parse_duration

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
MIN = 60 * S
H = 60 * MIN
MAX = (1 << 63) - 1
MIN_INT = -(1 << 63)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # simple
        ("0", 0),
        ("5s", 5 * S),
        ("30s", 30 * S),
        ("1478s", 1478 * S),
        # sign
        ("-5s", -5 * S),
        ("+5s", 5 * S),
        ("-0", 0),
        ("+0", 0),
        # decimal
        ("5.0s", 5 * S),
        ("5.6s", 5 * S + 600 * MS),
        ("5.s", 5 * S),
        (".5s", 500 * MS),
        ("1.0s", 1 * S),
        ("1.00s", 1 * S),
        ("1.004s", 1 * S + 4 * MS),
        ("1.0040s", 1 * S + 4 * MS),
        ("100.00100s", 100 * S + 1 * MS),
        # different units
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12µs", 12 * US),  # U+00B5
        ("12μs", 12 * US),  # U+03BC
        ("13ms", 13 * MS),
        ("14s", 14 * S),
        ("15m", 15 * MIN),
        ("16h", 16 * H),
        # composite durations
        ("3h30m", 3 * H + 30 * MIN),
        ("10.5s4m", 4 * MIN + 10 * S + 500 * MS),
        ("-2m3.4s", -(2 * MIN + 3 * S + 400 * MS)),
        ("1h2m3s4ms5us6ns", 1 * H + 2 * MIN + 3 * S + 4 * MS + 5 * US + 6 * NS),
        ("39h9m14.425s", 39 * H + 9 * MIN + 14 * S + 425 * MS),
        # large value
        ("52763797000ns", 52763797000 * NS),
        # more than 9 digits after the decimal point, golang.org/issue/6617
        ("0.3333333333333333333h", 20 * MIN),
        # huge string, golang.org/issue/15011
        ("0.100000000000000000000h", 6 * MIN),
        ("-9223372036854775808ns", MIN_INT),
        ("-2562047h47m16.854775808s", MIN_INT),
        # what docker's docs and Dockerfiles use
        ("1m30s", 90 * S),
        ("500ms", 500 * MS),
        pytest.param("9007199254740993ns", (1 << 53) + 1),
        pytest.param("9223372036854775807ns", MAX),
        pytest.param("9223372036854775.807us", MAX),
        pytest.param("9223372036s854ms775us807ns", MAX),
        pytest.param("0.830103483285477580700h", 49 * MIN + 48 * S + 372539827 * NS),
    ],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "\ufffd", "\ufffd hello \ufffd world",
     "1s ", " 1s", "1S", "1h 2m"],
)  # fmt: skip
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f'duration "{text}"')):
        parse_duration(text)


def test_parse_duration_error_wording() -> None:
    with pytest.raises(ValueError, match=r'^time: missing unit in duration "3"$'):
        parse_duration("3")
    with pytest.raises(ValueError, match=r'^time: invalid duration "abc"$'):
        parse_duration("abc")


@pytest.mark.parametrize(
    "text",
    [
        "9223372036854775810ns",
        "9223372036854775808ns",
        "-9223372036854775809ns",
        "9223372036854776us",
        "3000000h",
        "9223372036854775.808us",
        "9223372036854ms775us808ns",
    ],
)
def test_parse_duration_refuses_overflow(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f'duration "{text}"')):
        parse_duration(text)


def test_parse_duration_takes_ascii_digits_only() -> None:
    with pytest.raises(ValueError):
        parse_duration("\u0661s")  # ARABIC-INDIC DIGIT ONE


@pytest.mark.parametrize(
    ("expected", "nanoseconds"),
    [
        ("0s", 0),
        ("1ns", 1 * NS),
        ("1.1µs", 1100 * NS),
        ("2.2ms", 2200 * US),
        ("3.3s", 3300 * MS),
        ("4m5s", 4 * MIN + 5 * S),
        ("4m5.001s", 4 * MIN + 5001 * MS),
        ("5h6m7.001s", 5 * H + 6 * MIN + 7001 * MS),
        ("10h0m0s", 10 * H),
        ("1h10m10s", 4210 * S),
        ("5m0s", 5 * MIN),
        ("1m30s", 90 * S),
        ("1.5ms", 1500 * US),
        pytest.param("8m0.000000001s", 8 * MIN + 1 * NS),
        pytest.param("1.234567ms", 1234567 * NS),
        pytest.param("1.2345678s", 1234567800 * NS),
        pytest.param("2562047h47m16.854775807s", MAX),
    ],
)
def test_format_duration(expected: str, nanoseconds: int) -> None:
    assert format_duration(nanoseconds) == expected


@pytest.mark.parametrize("text", ["30s", "1m30s", "5m0s", "1h2m3s", "1.5ms", "12µs", "7ns"])
def test_format_then_parse_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
