"""The flags of `run` and `create`, declared once, and the errors pflag gives for their values.
`run` and `create` take no options after IMAGE and use ``-h`` for the host name (see
container_command.IMAGE_COMMAND)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FLAG, VALUE, MANY = "flag", "value", "many"

# (names, kind, help); the destination is the last long name, dashes as underscores.
CONTAINER_FLAGS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("-a", "--attach"), MANY, "Attach to STDIN, STDOUT or STDERR."),
    (("--add-host",), MANY, "Add a custom host-to-IP mapping (host:ip)."),
    (("--annotation",), MANY, "Add an annotation for the OCI runtime."),
    (("--blkio-weight",), VALUE, "Block IO relative weight, 10 to 1000 (0 disables)."),
    (("--cap-add",), MANY, "Add Linux capabilities."),
    (("--cap-drop",), MANY, "Drop Linux capabilities."),
    (("--cgroup-parent",), VALUE, "Optional parent cgroup for the container."),
    (("--cgroupns",), VALUE, "Cgroup namespace to use (host|private)."),
    (("--cidfile",), VALUE, "Write the container ID to the file."),
    (("--cpu-period",), VALUE, "Limit CPU CFS period."),
    (("--cpu-quota",), VALUE, "Limit CPU CFS quota."),
    (("-c", "--cpu-shares"), VALUE, "CPU shares (relative weight)."),
    (("--cpus",), VALUE, "Number of CPUs."),
    (("--cpuset-cpus",), VALUE, "CPUs in which to allow execution (0-3, 0,1)."),
    (("--cpuset-mems",), VALUE, "MEMs in which to allow execution (0-3, 0,1)."),
    (("--device",), MANY, "Add a host device to the container."),
    (("--device-cgroup-rule",), MANY, "Add a rule to the cgroup allowed devices list."),
    (("--dns",), MANY, "Set custom DNS servers."),
    (("--dns-opt", "--dns-option"), MANY, "Set DNS options."),
    (("--dns-search",), MANY, "Set custom DNS search domains."),
    (("--domainname",), VALUE, "Container NIS domain name."),
    (("--entrypoint",), VALUE, "Overwrite the default ENTRYPOINT of the image."),
    (("-e", "--env"), MANY, "Set environment variables."),
    (("--env-file",), MANY, "Read in a file of environment variables."),
    (("--expose",), MANY, "Expose a port or a range of ports."),
    (("--group-add",), MANY, "Add additional groups to join."),
    (("--health-cmd",), VALUE, "Command to run to check health."),
    (("--health-interval",), VALUE, "Time between running the check (ms|s|m|h)."),
    (("--health-retries",), VALUE, "Consecutive failures needed to report unhealthy."),
    (("--health-start-interval",), VALUE, "Time between checks during the start period."),
    (("--health-start-period",), VALUE, "Start period before retries count (ms|s|m|h)."),
    (("--health-timeout",), VALUE, "Maximum time to allow one check to run (ms|s|m|h)."),
    (("-h", "--hostname"), VALUE, "Container host name."),
    (("--init",), FLAG, "Run an init that forwards signals and reaps processes."),
    (("-i", "--interactive"), FLAG, "Keep STDIN open even if not attached."),
    (("--ip",), VALUE, "IPv4 address (e.g., 172.30.100.104)."),
    (("--ip6",), VALUE, "IPv6 address (e.g., 2001:db8::33)."),
    (("--ipc",), VALUE, "IPC mode to use."),
    (("--isolation",), VALUE, "Container isolation technology."),
    (("-l", "--label"), MANY, "Set meta data on a container."),
    (("--label-file",), MANY, "Read in a line delimited file of labels."),
    (("--link",), MANY, "Add link to another container."),
    (("--link-local-ip",), MANY, "Container IPv4/IPv6 link-local addresses."),
    (("--log-driver",), VALUE, "Logging driver for the container."),
    (("--log-opt",), MANY, "Log driver options."),
    (("--mac-address",), VALUE, "Container MAC address (e.g., 92:d0:c6:0a:29:33)."),
    (("-m", "--memory"), VALUE, "Memory limit."),
    (("--memory-reservation",), VALUE, "Memory soft limit."),
    (("--memory-swap",), VALUE, "Swap limit equal to memory plus swap: -1 for unlimited."),
    (("--memory-swappiness",), VALUE, "Tune container memory swappiness (0 to 100)."),
    (("--mount",), MANY, "Attach a filesystem mount to the container."),
    (("--name",), VALUE, "Assign a name to the container."),
    (("--net", "--network"), MANY, "Connect a container to a network."),
    (("--net-alias", "--network-alias"), MANY, "Add network-scoped alias for the container."),
    (("--no-healthcheck",), FLAG, "Disable any container-specified HEALTHCHECK."),
    (("--oom-kill-disable",), FLAG, "Disable OOM Killer."),
    (("--oom-score-adj",), VALUE, "Tune host's OOM preferences (-1000 to 1000)."),
    (("--pid",), VALUE, "PID namespace to use."),
    (("--pids-limit",), VALUE, "Tune container pids limit (set -1 for unlimited)."),
    (("--platform",), VALUE, "Set platform if server is multi-platform capable."),
    (("--privileged",), FLAG, "Give extended privileges to this container."),
    (("-p", "--publish"), MANY, "Publish a container's port(s) to the host."),
    (("-P", "--publish-all"), FLAG, "Publish all exposed ports to random ports."),
    (("--pull",), VALUE, 'Pull image before running ("always", "missing", "never").'),
    (("-q", "--quiet"), FLAG, "Suppress the pull output."),
    (("--read-only",), FLAG, "Mount the container's root filesystem as read only."),
    (("--restart",), VALUE, "Restart policy to apply when a container exits."),
    (("--rm",), FLAG, "Remove the container and its anonymous volumes when it exits."),
    (("--runtime",), VALUE, "Runtime to use for this container."),
    (("--security-opt",), MANY, "Security Options."),
    (("--shm-size",), VALUE, "Size of /dev/shm."),
    (("--stop-signal",), VALUE, "Signal to stop the container."),
    (("--stop-timeout",), VALUE, "Timeout (in seconds) to stop a container."),
    (("--storage-opt",), MANY, "Storage driver options for the container."),
    (("--sysctl",), MANY, "Sysctl options."),
    (("--tmpfs",), MANY, "Mount a tmpfs directory."),
    (("-t", "--tty"), FLAG, "Allocate a pseudo-TTY."),
    (("--ulimit",), MANY, "Ulimit options."),
    (("-u", "--user"), VALUE, "Username or UID (format: <name|uid>[:<group|gid>])."),
    (("--userns",), VALUE, "User namespace to use."),
    (("--uts",), VALUE, "UTS namespace to use."),
    (("-v", "--volume"), MANY, "Bind mount a volume."),
    (("--volume-driver",), VALUE, "Optional volume driver for the container."),
    (("--volumes-from",), MANY, "Mount volumes from the specified container(s)."),
    (("-w", "--workdir"), VALUE, "Working directory inside the container."),
)
RUN_FLAGS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("-d", "--detach"), FLAG, "Run container in background and print container ID."),
    (("--detach-keys",), VALUE, "Override the key sequence for detaching a container."),
    (("--sig-proxy",), FLAG, "Proxy received signals to the process (default true)."),
)
_DEFAULTS = {"pull": "missing", "restart": "no", "sig_proxy": True}
# Flags the engine is told about only when given, either way (``--init=false`` too).
_TRI_STATE = ("init",)


def destination(names: tuple[str, ...]) -> str:
    return names[-1].lstrip("-").replace("-", "_")


def flag_names(dest: str) -> str:
    """How the docker CLI names a flag in its errors: ``-m, --memory``."""
    for names, _, _ in CONTAINER_FLAGS + RUN_FLAGS:
        if destination(names) == dest:
            short = [n for n in names if not n.startswith("--")]
            return ", ".join([*short, names[-1]])
    return "--" + dest.replace("_", "-")


class FlagError(ValueError):
    """Flags the docker CLI refuses before asking the engine (exit code 125); ``usage`` when
    it refuses the value as it reads the flag (and then shows the usage line)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def flag_value(values: Mapping[str, Any], dest: str, parse: Callable[[str], Any]) -> Any:
    """``parse`` of a flag's text, None when it was not given; FlagError as pflag words it."""
    text = values.get(dest)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise invalid_argument(text, dest, error) from None


def invalid_argument(text: str, dest: str, error: ValueError) -> FlagError:
    """pflag's error for a value its flag refuses."""
    return FlagError(f'invalid argument "{text}" for "{flag_names(dest)}" flag: {error}', True)


def container_flags(run: bool) -> Callable[[F], F]:
    """Add the flags of `create` (and, with ``run``, those only `run` has) to a command."""
    table = CONTAINER_FLAGS + (RUN_FLAGS if run else ())

    def decorate(command: F) -> F:
        for names, kind, text in reversed(table):
            dest = destination(names)
            default = _DEFAULTS.get(dest)
            if kind == FLAG:
                if default or dest in _TRI_STATE:  # Go's --sig-proxy=false: --no-sig-proxy
                    names = (f"{names[-1]}/--no-{names[-1][2:]}",)
                option = click.option(*names, dest, is_flag=True, default=default, help=text)
            else:
                option = click.option(
                    *names, dest, multiple=kind == MANY, default=default, help=text,
                    show_default=default is not None,
                )  # fmt: skip
            command = option(command)
        return command

    return decorate
