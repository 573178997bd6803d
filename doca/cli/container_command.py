"""Commands that read their flags and report usage errors the docker CLI's way: Go's
``--flag=false`` and ``-e=VALUE`` spellings, pflag's and cobra's words, exit code 125 for a flag
the command cannot use and 1 for missing or extra arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from doca.cli.container_limits import parse_int
from doca.cli.filter_flags import BadFlagValue
from doca.cli.runner import ENGINE_ERROR, GENERAL_ERROR


class _DockerUsageError(click.UsageError):
    """A usage error shown as the docker CLI shows it: its text as it is."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


class _FlagError(_DockerUsageError):
    exit_code = ENGINE_ERROR


class _ArgumentError(_DockerUsageError):
    exit_code = GENERAL_ERROR


class GoInt(click.ParamType):
    """An integer flag that refuses a value in strconv's words."""

    name = "int"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return int(parse_int(str(value)))
        except ValueError as error:
            raise BadFlagValue(str(value), str(error), param) from None


def _flag_problem(error: click.UsageError) -> str:
    """pflag's words for a flag it cannot use."""
    if isinstance(error, BadFlagValue) and isinstance(error.param, click.Option):
        opts = error.param.opts
        names = ", ".join([*(o for o in opts if not o.startswith("--")), opts[-1]])
        return f'invalid argument "{error.value}" for "{names}" flag: {error.message}'
    name = str(getattr(error, "option_name", "") or "")
    where = name if name.startswith("--") else f"'{name[1:]}' in {name}"
    if isinstance(error, click.NoSuchOption):
        return f"unknown flag: {name}" if name.startswith("--") else \
            f"unknown shorthand flag: {where}"  # fmt: skip
    if isinstance(error, click.BadOptionUsage) and "requires an argument" in error.message:
        return f"flag needs an argument: {where}"
    return error.format_message()


def _plural(count: int) -> str:
    return "argument" if count == 1 else "arguments"


class DockerCommand(click.Command):
    """A command read with the docker CLI's spellings whose usage errors read and exit as the
    docker CLI's do: 125 for a flag it cannot use, 1 for missing or extra arguments.
    ``docker_usage`` is the docker CLI's usage line after the command's name (``{path}`` in it
    is the command's path)."""

    def __init__(self, *args: Any, docker_usage: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.docker_usage = docker_usage

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, self.go_spellings(args))
        except click.UsageError as error:
            raise self._docker_error(ctx, error) from None

    def usage_line(self, ctx: click.Context) -> str:
        path = ctx.command_path
        pieces = self.docker_usage or " ".join(self.collect_usage_pieces(ctx))
        return f"Usage:  {path} {pieces.replace('{path}', path)}"

    def _arity(self) -> tuple[str, str]:
        """How many arguments the command takes, in cobra's words, and the word that starts
        the line pointing to the help (cli/required.go)."""
        arguments = [p for p in self.params if isinstance(p, click.Argument)]
        least = sum(1 for p in arguments if p.required)
        most = None if any(p.nargs == -1 for p in arguments) else len(arguments)
        if most == 0:
            return "accepts no arguments", "Run"
        if most is None:
            return f"requires at least {least} {_plural(least)}", "See"
        if most != least:
            return f"requires at least {least} and at most {most} {_plural(most)}", "Run"
        return f"requires {least} {_plural(least)}", "Run"

    def _docker_error(self, ctx: click.Context, error: click.UsageError) -> click.UsageError:
        path = ctx.command_path
        usage = self.usage_line(ctx)
        message = error.format_message()
        missing = isinstance(error, click.MissingParameter) and isinstance(
            error.param, click.Argument
        )
        if missing or "unexpected extra argument" in message:
            program = path.split()[0]
            arity, pointer = self._arity()
            return _ArgumentError(
                f"{program}: '{path}' {arity}\n\n{usage}\n\n"
                f"{pointer} '{path} --help' for more information",
                ctx,
            )
        return _FlagError(
            f"{_flag_problem(error)}\n\n{usage}\n\nRun '{path} --help' for more information", ctx
        )

    def go_spellings(self, args: list[str]) -> list[str]:
        """``--rm=true`` → ``--rm``, ``--init=false`` → nothing (``--no-X`` where the flag has
        one), ``-e=A`` → ``-eA``; only before the first argument."""
        flags: dict[str, click.Option] = {}
        for param in self.params:
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    flags[name] = param
        out: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            index += 1
            if token == "--" or not token.startswith("-") or token == "-":
                out.append(token)
                out.extend(args[index:])
                break
            name, sep, value = token.partition("=")
            option = flags.get(name)
            if sep and option is not None and option.is_flag:
                if value.lower() in ("1", "t", "true"):
                    out.append(name)
                elif option.secondary_opts:
                    out.append(option.secondary_opts[0])
                continue
            if sep and option is not None and len(name) == 2:
                out.append(name + value)
                continue
            out.append(token)
            # A value in the next token is not an argument.
            if not sep and _takes_next(token, flags):
                out.extend(args[index : index + 1])
                index += 1
        return out


def _takes_next(token: str, flags: Mapping[str, click.Option]) -> bool:
    """Whether the option ``token`` (``--name``, ``-m`` or grouped ``-itm``) takes the next
    argument as its value."""
    if token.startswith("--"):
        option = flags.get(token)
        return option is not None and not option.is_flag
    for position in range(1, len(token)):
        option = flags.get("-" + token[position])
        if option is None:
            return False
        if not option.is_flag:
            return position == len(token) - 1
    return False


# The docker CLI's usage lines of commands that take containers.
CONTAINERS_USAGE = "CONTAINER [CONTAINER...]"
OPTIONS_CONTAINERS_USAGE = "[OPTIONS] CONTAINER [CONTAINER...]"
# The context settings of commands whose options end at their first argument (the image, the
# container): what follows is the command to run, options included.
OPTIONS_FIRST: dict[str, Any] = {"allow_interspersed_args": False}
# Those of `run` and `create`, where ``-h`` is the host name.
IMAGE_COMMAND: dict[str, Any] = {**OPTIONS_FIRST, "help_option_names": ["--help"]}
