"""``docker build``'s flag values, checked and decoded as the docker CLI's opts package does:
click callbacks that turn each repeated flag into what ImageBuildOptions holds."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

import click

from doca.cli.registry_commands import parse_reference
from doca.cli.units import ram_in_bytes

HOST_GATEWAY = "host-gateway"
_WHITESPACE = " \t\n\v\f\r"
# Go's strconv.ParseBool
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def build_args(values: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, str | None]:
    """``--build-arg K=V``; a bare ``K`` takes the environment's value, or stays unset (null)
    for the Dockerfile's default (ValidateEnv, then ConvertKVStringsToMapWithNil)."""
    out: dict[str, str | None] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not key:
            raise click.BadParameter(f"invalid environment variable: {value}")
        if not sep and key in environ:
            sep, text = "=", environ[key]
        out[key] = text if sep else None
    return out


def labels(values: tuple[str, ...]) -> dict[str, str]:
    """``--label K=V``; a bare ``K`` is an empty label (ValidateLabel)."""
    out = {}
    for value in values:
        key, _, text = value.partition("=")
        key = key.lstrip(_WHITESPACE)
        if not key:
            raise click.BadParameter(f"invalid label '{value}': empty name")
        if any(c in _WHITESPACE for c in key):
            raise click.BadParameter(f"label '{key}' contains whitespaces")
        out[key] = text
    return out


def extra_host(value: str) -> str:
    """``--add-host host:ip`` or ``host=ip`` as the engine wants it: ``host:ip``
    (ValidateExtraHost)."""
    host, sep, address = value.partition("=")
    if not sep:
        host, sep, address = value.partition(":")
    if not sep or not host or ":" in host:
        raise click.BadParameter(f'bad format for add-host: "{value}"')
    if address != HOST_GATEWAY:
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise click.BadParameter(f'invalid IP address in add-host: "{address}"') from None
    return f"{host}:{address}"


def parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool; None for what it refuses."""
    return True if text in _TRUE else False if text in _FALSE else None


def tags_callback(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[str]:
    for value in values:
        try:
            parse_reference(value)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return list(values)


def build_args_callback(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str | None]:
    return build_args(values, os.environ)


def labels_callback(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    return labels(values)


def hosts_callback(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[str]:
    return [extra_host(value) for value in values]


def size_callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    if not value:
        return 0
    try:
        return ram_in_bytes(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def list_callback(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[str]:
    """A string-slice flag: repeated, each value a comma-separated list."""
    return [item for value in values for item in value.split(",") if item]


class GoBoolFlags(click.Command):
    """A command whose boolean flags also take ``--flag=true|false`` as the docker CLI's do, so
    that ``--rm=false`` turns off a flag that is on by default (through its ``--no-`` form)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = {name: param for param in self.params if isinstance(param, click.Option)
                 and param.is_flag for name in param.opts}  # fmt: skip
        rewritten: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                rewritten.extend(args[index:])
                break
            name, sep, text = arg.partition("=")
            param = flags.get(name) if sep and name.startswith("--") else None
            value = parse_bool(text) if param is not None else None
            if param is None or value is None:
                rewritten.append(arg)
            elif value:
                rewritten.append(name)
            elif param.secondary_opts:
                rewritten.append(param.secondary_opts[0])
        return super().parse_args(ctx, rewritten)
