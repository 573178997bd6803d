"""Compose v2's variable substitution syntax."""

from __future__ import annotations

import pytest

from doca.compose.interpolation import InterpolationError, interpolate

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a-${SET}-b", "a-value-b"),
        ("$SET.x", "value.x"),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"),
        ("${SET:-default}", "value"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-a ${UNSET2:-b} c}", "a b c"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: $$5", "cost: $5"),
        ("no vars", "no vars"),
    ],
)
def test_substitutions(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


def test_missing_variable_is_blank_and_reported() -> None:
    missing: list[str] = []
    assert interpolate("x${NOPE}y$NOPE2", ENV, missing.append) == "xy"
    assert missing == ["NOPE", "NOPE2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?must be set}", "required variable UNSET is missing a value: must be set"),
        ("${EMPTY:?no empty}", "required variable EMPTY is missing a value: no empty"),
        ("${UNSET?gone}", "required variable UNSET is missing a value: gone"),
    ],
)
def test_required(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate(text, ENV)


def test_required_set_even_empty_without_colon() -> None:
    assert interpolate("${EMPTY?err}", ENV) == ""


@pytest.mark.parametrize("text", ["${", "${SET", "${1X}", "$", "a $ b", "${SET:x}"])
def test_invalid(text: str) -> None:
    with pytest.raises(InterpolationError, match="invalid interpolation format"):
        interpolate(text, ENV)
