"""``--filter name=value`` flags, read as the docker CLI's FilterOpt reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FILTER_HELP = "Filter output based on conditions provided (name=value)."


class BadFlagValue(click.BadParameter):
    """A flag's value it cannot take; a DockerCommand words it as pflag does, naming the
    value."""

    def __init__(self, value: str, reason: str, param: click.Parameter | None = None) -> None:
        super().__init__(reason, param=param)
        self.value = value


def parse_filters(
    values: tuple[str, ...] | list[str], param: click.Parameter | None = None
) -> dict[str, list[str]]:
    """Names lower-cased and both sides trimmed; a value without ``=`` is refused."""
    found: dict[str, list[str]] = {}
    for value in values:
        if not value:
            continue
        if "=" not in value:
            raise BadFlagValue(value, "bad format of filter (expected name=value)", param)
        name, _, text = value.partition("=")
        found.setdefault(name.strip().lower(), []).append(text.strip())
    return found


def filters_callback(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, list[str]]:
    return parse_filters(values, param)


def filter_flag(*names: str) -> Callable[[F], F]:
    """The ``-f/--filter`` option (or the names given), collected into a filters map."""
    return click.option(
        *(names or ("-f", "--filter")), "filters", multiple=True, metavar="FILTER",
        callback=filters_callback, help=FILTER_HELP,
    )  # fmt: skip
