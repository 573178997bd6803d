"""The rootless engine: ``doca-engine`` run by an unprivileged user, as rootless Docker and
Podman run.

The engine started by the user (the *outer* process, no capabilities anywhere) forks a child
that unshares a user, a mount and a network namespace; the outer process has ``newuidmap`` and
``newgidmap`` map the user's UID/GID to 0 and their /etc/subuid and /etc/subgid ranges to
1…N (``idmaps``), then the child re-executes the engine inside (``reexec``). There the engine
is root of the namespace: it mounts overlayfs (Linux 5.11+), makes network namespaces,
bridges and nftables rules in a network stack of its own, and runs crun and conmon; none of
it reaches past what the user may do. The outer process stays as the engine's parent, passes
signals on and exits with it.

Paths follow the XDG base directories (``dirs``); ``prerequisites`` says what a host lacks
(``doca setup rootless`` prints the same findings); ``limits`` is what rootless mode without
a delegated cgroup cannot do, as ``docker info`` and a create's warnings tell it.
"""
