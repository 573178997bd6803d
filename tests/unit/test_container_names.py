"""engine.containers.names: dockerd's name rule (daemon/names.go) and its generated names
(namesgenerator.GetRandomName)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import pytest

from engine.containers import names
from engine.containers.names import generate_name, validate_name
from engine.errors import InvalidParameter

GENERATED = re.compile(r"^/([a-z]+)_([a-z]+)(\d?)$")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("web", "/web"),
        ("/web", "/web"),
        ("my-app_1.2", "/my-app_1.2"),
        ("0day", "/0day"),
        ("A1", "/A1"),
        ("a.", "/a."),
        ("x" * 200, "/" + "x" * 200),
    ],
)
def test_valid_names_get_one_leading_slash(given: str, canonical: str) -> None:
    assert validate_name(given) == canonical


@pytest.mark.parametrize(
    "given",
    [
        "",
        "/",
        "a",  # dockerd's pattern needs at least two characters
        "/a",
        "-web",
        "_web",
        ".web",
        "//web",
        "web/db",
        "web app",
        "wéb",
        "web:1",
    ],
)
def test_invalid_names_are_refused_with_dockerds_message(given: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        validate_name(given)
    assert info.value.message == (
        f"Invalid container name ({given}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    )


@pytest.mark.parametrize("given", ["web\n", "/web\n"])
def test_a_trailing_newline_is_refused(given: str) -> None:
    with pytest.raises(InvalidParameter, match=r"^Invalid container name"):
        validate_name(given)


def test_generated_name_is_adjective_underscore_surname() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        match = GENERATED.match(generate_name(set(), rng))
        assert match is not None
        adjective, surname, digit = match.groups()
        assert adjective in names._LEFT
        assert surname in names._RIGHT
        assert digit == ""  # no collision, no digit


def test_generation_is_reproducible_with_a_seeded_rng() -> None:
    first = [generate_name(set(), random.Random(7)) for _ in range(3)]
    assert first == [first[0]] * 3


class _Scripted(random.Random):
    """A Random whose ``choice`` answers from a script, then falls back to the seed."""

    def __init__(self, script: Sequence[str]) -> None:
        super().__init__(0)
        self.script = list(script)

    def choice(self, seq: Any) -> Any:
        if self.script:
            wanted = self.script.pop(0)
            assert wanted in seq
            return wanted
        return super().choice(seq)


def test_boring_wozniak_is_never_generated() -> None:
    rng = _Scripted(["boring", "wozniak", "boring", "wozniak", "happy", "turing"])
    assert generate_name(set(), rng) == "/happy_turing"


def test_boring_wozniak_never_comes_out_of_many_draws() -> None:
    rng = random.Random(99)
    drawn = {generate_name(set(), rng) for _ in range(5000)}
    assert "/boring_wozniak" not in drawn
    # other boring ones and other wozniaks are fine
    assert "boring" in names._LEFT
    assert "wozniak" in names._RIGHT


def test_a_taken_name_is_skipped() -> None:
    rng = _Scripted(["happy", "turing", "happy", "turing", "sad", "curie"])
    assert generate_name({"/happy_turing"}, rng) == "/sad_curie"


def test_taken_names_are_avoided_with_a_seeded_rng() -> None:
    first = generate_name(set(), random.Random(42))
    second = generate_name({first}, random.Random(42))
    assert second != first
    assert GENERATED.match(second)


def test_a_digit_is_appended_after_repeated_collisions() -> None:
    # Every draw gives the same pair: only the appended digit can make it free.
    rng = _Scripted(["happy", "turing"] * 20)
    name = generate_name({"/happy_turing"}, rng)
    assert re.fullmatch(r"/happy_turing\d", name)


def test_generated_names_are_valid_container_names() -> None:
    rng = random.Random(3)
    for _ in range(50):
        name = generate_name(set(), rng)
        assert validate_name(name) == name


def test_word_lists_hold_lowercase_words_without_duplicates() -> None:
    for words in (names._LEFT, names._RIGHT):
        assert words
        assert all(re.fullmatch(r"[a-z]+", w) for w in words)
        assert len(set(words)) == len(words)
