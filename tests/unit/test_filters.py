"""Tests for the ``filters`` query parameter and timestamp parsing."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engine.errors import InvalidParameter
from engine.filters import Filters, parse_timestamp

NOW = 1_700_000_000.0


def test_parse_list_encoding() -> None:
    filters = Filters.parse('{"label":["a=b","c"],"dangling":["true"]}')
    assert filters.values == {"label": ["a=b", "c"], "dangling": ["true"]}


def test_parse_legacy_map_encoding_keeps_only_true() -> None:
    filters = Filters.parse('{"label":{"a=b":true,"c":false},"name":{"web":true}}')
    assert filters.values == {"label": ["a=b"], "name": ["web"]}


@pytest.mark.parametrize("raw", [None, ""])
def test_parse_empty(raw: str | None) -> None:
    assert Filters.parse(raw).values == {}


@pytest.mark.parametrize(
    "raw",
    ["{not json", '["label"]', '"label"', "42", '{"label":"a"}', '{"label":[1]}'],
)
def test_parse_rejects_malformed(raw: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid filter"):
        Filters.parse(raw)


def test_validate_unknown_key() -> None:
    filters = Filters.parse('{"label":["a"],"x":["y"]}')
    with pytest.raises(InvalidParameter) as excinfo:
        filters.validate(["label", "dangling"])
    assert excinfo.value.message == "invalid filter 'x'"


def test_validate_returns_filters_when_allowed() -> None:
    filters = Filters.parse('{"label":["a"]}')
    assert filters.validate(["label"]) is filters


def test_contains_and_get() -> None:
    filters = Filters.parse('{"name":["a","b"]}')
    assert "name" in filters
    assert "id" not in filters
    assert filters.get("name") == ["a", "b"]
    assert filters.get("id") == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["true"], True),
        (["TRUE", "1"], True),
        (["false"], False),
        (["0", "False"], False),
    ],
)
def test_bool_value(values: list[str], expected: bool) -> None:
    assert Filters({"dangling": values}).bool_value("dangling") is expected


def test_bool_value_unset_is_none() -> None:
    assert Filters().bool_value("dangling") is None


@pytest.mark.parametrize("values", [["yes"], ["true", "false"]])
def test_bool_value_rejects_other_values(values: list[str]) -> None:
    with pytest.raises(InvalidParameter, match="invalid filter 'dangling="):
        Filters({"dangling": values}).bool_value("dangling")


LABELS = {"app": "web", "tier": "front", "empty": ""}


@pytest.mark.parametrize(
    ("exprs", "expected"),
    [
        ([], True),
        (["app"], True),
        (["app=web"], True),
        (["app=db"], False),
        (["missing"], False),
        (["app", "tier=front"], True),
        (["app", "tier=back"], False),
        (["empty="], True),
        (["app="], False),
    ],
)
def test_match_labels(exprs: list[str], expected: bool) -> None:
    assert Filters({"label": exprs}).match_labels(LABELS) is expected


def test_match_labels_without_labels() -> None:
    assert Filters({"label": ["app"]}).match_labels(None) is False
    assert Filters().match_labels(None) is True


def test_match_labels_other_key() -> None:
    filters = Filters({"label": ["missing"], "node.label": ["app=web"]})
    assert filters.match_labels(LABELS, key="node.label") is True


@pytest.mark.parametrize(
    ("exprs", "expected"),
    [
        ([], True),
        (["app"], False),
        (["app=web"], False),
        (["app=db"], True),
        (["missing"], True),
        (["missing", "tier=front"], False),
    ],
)
def test_match_not_labels(exprs: list[str], expected: bool) -> None:
    assert Filters({"label!": exprs}).match_not_labels(LABELS) is expected


def test_match_not_labels_without_labels() -> None:
    assert Filters({"label!": ["app"]}).match_not_labels(None) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000", 1_700_000_000.0),
        ("1699999999.5", 1_699_999_999.5),
        (" 42 ", 42.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.25Z", 1_700_000_000.25),
        ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
        ("2023-11-14T17:13:20-05:00", 1_700_000_000.0),
    ],
)
def test_parse_timestamp_absolute(value: str, expected: float) -> None:
    assert parse_timestamp(value, now=0.0) == pytest.approx(expected)


def test_parse_timestamp_nanosecond_fraction() -> None:
    assert parse_timestamp("2023-11-14T22:13:20.123456789Z") == pytest.approx(
        1_700_000_000.123456, abs=1e-6
    )


@pytest.fixture
def tokyo_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time nine hours ahead of UTC; a POSIX TZ string needs no tzdata."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_time")
def test_parse_timestamp_without_zone_is_local_time() -> None:
    assert parse_timestamp("2023-11-15T07:13:20") == 1_700_000_000.0
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "ago"),
    [
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("90s", 90.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
        ("2h0m5s", 7205.0),
    ],
)
def test_parse_timestamp_go_duration(value: str, ago: float) -> None:
    assert parse_timestamp(value, now=NOW) == pytest.approx(NOW - ago)


def test_parse_timestamp_duration_uses_current_time() -> None:
    before = datetime.now(UTC).timestamp()
    assert parse_timestamp("1h") == pytest.approx(before - 3600, abs=5)


@pytest.mark.parametrize("value", ["", "yesterday", "10x", "m10", "2023-13-45T00:00:00Z", "1h 30m"])
def test_parse_timestamp_rejects_garbage(value: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid timestamp"):
        parse_timestamp(value, now=NOW)


@pytest.mark.parametrize("value", ["nan", "inf", "-infinity"])
def test_parse_timestamp_rejects_non_numeric_floats(value: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_timestamp(value, now=NOW)
