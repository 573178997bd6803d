"""Which sysctls a container may set: only those its own namespaces isolate.

dockerd passes ``--sysctl`` values through and lets the OCI runtime refuse them at start;
Doca refuses them up front, with runc's words, so ``create`` already fails cleanly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from engine.errors import InvalidParameter, SystemError_
from engine.runtime.capabilities import go_quote

#: IPC-namespaced sysctls (plus everything under fs.mqueue.).
IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)


def dotted_name(name: str) -> str:
    """sysctl names may use "/" as separator (sysctl.d(5)); turn them into the dotted form."""
    first = next((c for c in name if c in "./"), ".")
    if first == ".":
        return name
    return name.translate(str.maketrans("./", "/."))


def check_sysctl(name: str, *, own_network: bool, own_ipc: bool, own_uts: bool) -> None:
    """Raise InvalidParameter unless ``name`` is isolated by the container's namespaces."""
    key = dotted_name(name)
    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if own_ipc:
            return
        raise InvalidParameter(f"sysctl {go_quote(key)} is not allowed in the hosts ipc namespace")
    if key.startswith("net."):
        if own_network:
            return
        raise InvalidParameter(f"sysctl {go_quote(key)} not allowed in host network namespace")
    if own_uts:
        if key == "kernel.domainname":
            return
        if key == "kernel.hostname":
            raise InvalidParameter(
                f"sysctl {go_quote(key)} is not allowed as it conflicts with the OCI "
                f'"hostname" field'
            )
    raise InvalidParameter(f"sysctl {go_quote(key)} is not in a separate kernel namespace")


def check_sysctls(names: Iterable[str], *, own_network: bool, own_ipc: bool, own_uts: bool) -> None:
    """:func:`check_sysctl` for each name, in order."""
    for name in names:
        check_sysctl(name, own_network=own_network, own_ipc=own_ipc, own_uts=own_uts)


#: dockerd's sysctls for a container with a network namespace of its own.
PRIVATE_NETWORK_DEFAULTS = {
    "net.ipv4.ping_group_range": "0 2147483647",
    "net.ipv4.ip_unprivileged_port_start": "0",
}


@functools.cache
def running_in_user_namespace() -> bool:
    """moby's ``userns.RunningInUserNS``: the engine itself is in a user namespace (rootless),
    which its own uid_map shows as anything but the whole identity range."""
    try:
        with open("/proc/self/uid_map") as file:
            return file.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def container_sysctls(
    sysctls: Mapping[str, str],
    *,
    domainname: str = "",
    network_ns: str | None = None,
    ipc: str = "private",
    uts_host: bool = False,
    userns: bool = False,
) -> dict[str, str]:
    """``linux.sysctl`` of a container: dockerd's additions, then the user's, all checked.

    ``network_ns``/``ipc`` as in :class:`engine.runtime.oci_spec.SpecInput`; ``userns``: the
    container has a user namespace of its own.
    """
    values: dict[str, str] = {}
    if domainname:
        # No OCI 1.0 field for the NIS domain name; this sysctl has the same effect.
        values["kernel.domainname"] = domainname
    if network_ns is None:
        # dockerd's defaults for a container with its own network namespace: ping without
        # CAP_NET_RAW and ports below 1024 without CAP_NET_BIND_SERVICE. As dockerd, no ping
        # range in a user namespace, where GIDs past its mapping cannot be named.
        if not userns and not running_in_user_namespace():
            values.update(PRIVATE_NETWORK_DEFAULTS)
        else:
            values["net.ipv4.ip_unprivileged_port_start"] = "0"
    values.update(sysctls)
    check_sysctls(
        values, own_network=network_ns != "host", own_ipc=ipc != "host", own_uts=not uts_host
    )
    return values


def is_network_sysctl(name: str) -> bool:
    return dotted_name(name).startswith("net.")


def write_sysctls(values: Mapping[str, str]) -> None:
    """Set sysctls through /proc/sys, in the namespaces of the calling thread (blocking)."""
    for name, value in values.items():
        path = "/proc/sys/" + dotted_name(name).replace(".", "/")
        try:
            with open(path, "w") as file:
                file.write(value)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()  # as the runtime words it
            raise SystemError_(f"open {path}: {reason}") from exc
