"""What a host needs for a rootless engine, checked the way ``dockerd-rootless-setuptool.sh
check`` checks it: each finding says what is missing and how to add it.

``gather`` reads the host once (the side effects); ``check`` turns what it read into findings
(pure). The engine refuses to start on a failed check that it cannot do without, and
``doca setup rootless`` prints them all.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.rootless.delegation import CGROUP_ROOT, Delegation, find_delegation
from engine.userns.subids import SUBGID_FILE, SUBUID_FILE, SubIdRange, parse_subids, ranges_of

HELPERS = ("newuidmap", "newgidmap")
NETWORK_HELPER = "slirp4netns"
TUN_DEVICE = "/dev/net/tun"
# Debian's and Ubuntu's switches; a kernel without them allows unprivileged user namespaces.
UNPRIVILEGED_USERNS_CLONE = Path("/proc/sys/kernel/unprivileged_userns_clone")
APPARMOR_RESTRICT = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
MAX_USER_NAMESPACES = Path("/proc/sys/user/max_user_namespaces")


@dataclass(frozen=True)
class Helper:
    """A setuid helper binary as found on the host."""

    path: str | None
    setuid_root: bool = False
    file_caps: bool = False


@dataclass(frozen=True)
class HostFacts:
    user: str
    uid: int
    subuids: tuple[SubIdRange, ...]
    subgids: tuple[SubIdRange, ...]
    helpers: Mapping[str, Helper]
    userns_clone: str | None  # kernel.unprivileged_userns_clone, None if the kernel has none
    apparmor_restrict: str | None
    max_user_namespaces: str | None
    runtime_dir: str
    runtime_dir_owner: int | None  # None: missing
    crun: str | None
    network_helper: str | None
    kernel: tuple[int, int] = (0, 0)
    fuse_overlayfs: str | None = None
    tun_usable: bool = True  # the user may open /dev/net/tun (slirp4netns's tap device)
    delegation: Delegation | None = None  # a cgroup v2 subtree the user may hand down
    cgroup_v2: bool = False  # cgroup v2 is the host's only hierarchy


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    fix: list[str] = field(default_factory=list)
    required: bool = True  # the engine cannot start without it


def _subid_finding(facts: HostFacts, path: str, ranges: tuple[SubIdRange, ...]) -> Finding:
    what = f"subordinate IDs ({path})"
    mine = ranges_of(ranges, facts.user, facts.uid)
    if mine:
        detail = ", ".join(f"{r.start}-{r.start + r.count - 1}" for r in mine)
        return Finding(what, True, f"{sum(r.count for r in mine)} IDs: {detail}")
    return Finding(
        what,
        False,
        f"Could not find records for the current user {facts.user} from {path}, "
        f"please make sure valid {Path(path).name} range is set there.",
        [f'echo "{facts.user}:100000:65536" >> {path}   # as root, a range nobody else has'],
    )


def _helper_finding(name: str, helper: Helper) -> Finding:
    what = f"{name} (package uidmap)"
    if helper.path is None:
        return Finding(
            what,
            False,
            f"{name} binary not found. Please install with a package manager.",
            ["apt-get install uidmap   # or: dnf install shadow-utils"],
        )
    if not (helper.setuid_root or helper.file_caps):
        cap = "cap_setuid" if name == "newuidmap" else "cap_setgid"
        return Finding(
            what,
            False,
            f"{helper.path} is neither setuid root nor has file capabilities",
            [f"chmod u+s {helper.path}   # or: setcap {cap}=ep {helper.path}"],
        )
    how = "setuid root" if helper.setuid_root else "file capabilities"
    return Finding(what, True, f"{helper.path} ({how})")


def _userns_finding(facts: HostFacts) -> Finding:
    what = "unprivileged user namespaces"
    if facts.userns_clone is not None and facts.userns_clone.strip() != "1":
        return Finding(
            what,
            False,
            "kernel.unprivileged_userns_clone is 0",
            [
                "echo kernel.unprivileged_userns_clone=1 > /etc/sysctl.d/50-rootless.conf",
                "sysctl --system",
            ],
        )
    if facts.max_user_namespaces is not None and facts.max_user_namespaces.strip() in ("", "0"):
        return Finding(
            what,
            False,
            "user.max_user_namespaces is 0",
            [
                "echo user.max_user_namespaces=28633 > /etc/sysctl.d/51-rootless.conf",
                "sysctl --system",
            ],
        )
    if facts.apparmor_restrict is not None and facts.apparmor_restrict.strip() == "1":
        return Finding(
            what,
            False,
            "kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor forbids them",
            ["an AppArmor profile allowing userns for doca-engine, or that sysctl set to 0"],
        )
    return Finding(what, True, f"allowed (max {(facts.max_user_namespaces or '?').strip()})")


def _runtime_dir_finding(facts: HostFacts) -> Finding:
    what = "XDG_RUNTIME_DIR"
    if not facts.runtime_dir.startswith("/"):
        return Finding(
            what,
            False,
            "XDG_RUNTIME_DIR needs to be set for rootless mode",
            ["log in through a session manager (systemd-logind sets it), or export "
             f"XDG_RUNTIME_DIR=/run/user/{facts.uid} with that directory owned by you"],
        )  # fmt: skip
    if facts.runtime_dir_owner is None:
        return Finding(
            what,
            False,
            f"{facts.runtime_dir} does not exist",
            [f"mkdir -m 700 {facts.runtime_dir}"],
        )
    if facts.runtime_dir_owner != facts.uid:
        return Finding(
            what,
            False,
            f"{facts.runtime_dir} is not owned by {facts.user}",
            [f"chown {facts.uid} {facts.runtime_dir}"],
        )
    return Finding(what, True, facts.runtime_dir)


def _network_finding(facts: HostFacts) -> Finding:
    what = "outbound network"
    if not facts.network_helper:
        return Finding(
            what,
            False,
            f"{NETWORK_HELPER} not found: containers get no outbound network",
            [f"apt-get install {NETWORK_HELPER}"],
            required=False,
        )
    if not facts.tun_usable:
        return Finding(
            what,
            False,
            f"{TUN_DEVICE} is not open to {facts.user}: {NETWORK_HELPER} cannot make its tap "
            "device, and containers get no outbound network",
            [f"chmod 0666 {TUN_DEVICE}   # as root; Debian's and udev's default mode"],
            required=False,
        )
    return Finding(what, True, facts.network_helper, required=False)


def _limits_finding(facts: HostFacts) -> Finding:
    what = "resource limits"
    if facts.delegation is not None:
        given = " ".join(sorted(facts.delegation.controllers))
        return Finding(what, True, f"delegated cgroup {facts.delegation.path} ({given})")
    if not facts.cgroup_v2:
        return Finding(
            what,
            False,
            "cgroup v1 cannot be delegated: containers run without limits (like rootless Docker's)",
            ["boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2"],
            required=False,
        )
    return Finding(
        what,
        False,
        "no cgroup is delegated here: containers run without limits",
        ["systemctl --user enable --now doca-engine   # a user service with Delegate=yes"],
        required=False,
    )


def namespace_findings(facts: HostFacts) -> list[Finding]:
    """What entering the engine's user namespace needs (pure)."""
    return [
        _subid_finding(facts, SUBUID_FILE, facts.subuids),
        _subid_finding(facts, SUBGID_FILE, facts.subgids),
        *(_helper_finding(name, facts.helpers[name]) for name in HELPERS),
        _userns_finding(facts),
    ]


def check(facts: HostFacts) -> list[Finding]:
    """Every finding about ``facts``, in the order a user would fix them (pure)."""
    findings = [*namespace_findings(facts), _runtime_dir_finding(facts)]
    if facts.crun:
        findings.append(Finding("crun", True, facts.crun))
    else:
        findings.append(
            Finding("crun", False, "crun binary not found in PATH", ["apt-get install crun"])
        )
    findings.append(_network_finding(facts))
    findings.append(_limits_finding(facts))
    if facts.kernel < (5, 11):
        ok = facts.fuse_overlayfs is not None
        detail = (
            f"kernel {facts.kernel[0]}.{facts.kernel[1]} cannot mount overlayfs in a user "
            "namespace (5.11+ can)"
        )
        findings.append(
            Finding("overlayfs", ok, detail, [] if ok else ["apt-get install fuse-overlayfs"])
        )
    return findings


def missing(findings: list[Finding], *, required_only: bool = False) -> list[Finding]:
    return [f for f in findings if not f.ok and (f.required or not required_only)]


# -- the host --------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _ranges(path: str) -> tuple[SubIdRange, ...]:
    return tuple(parse_subids(_read(Path(path)) or ""))


def _helper(name: str) -> Helper:
    found = shutil.which(name)
    if found is None:
        return Helper(None)
    info = os.stat(found)
    try:
        caps = bool(os.getxattr(found, "security.capability"))
    except OSError:
        caps = False
    return Helper(found, bool(info.st_mode & stat.S_ISUID) and info.st_uid == 0, caps)


def _kernel() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def gather(environ: Mapping[str, str] | None = None, uid: int | None = None) -> HostFacts:
    """Read what ``check`` looks at, for the user ``uid`` (default: the caller)."""
    env = os.environ if environ is None else environ
    uid = os.getuid() if uid is None else uid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    runtime = env.get("XDG_RUNTIME_DIR", "")
    try:
        owner: int | None = os.stat(runtime).st_uid if runtime.startswith("/") else None
    except OSError:
        owner = None
    return HostFacts(
        user=user,
        uid=uid,
        subuids=_ranges(SUBUID_FILE),
        subgids=_ranges(SUBGID_FILE),
        helpers={name: _helper(name) for name in HELPERS},
        userns_clone=_read(UNPRIVILEGED_USERNS_CLONE),
        apparmor_restrict=_read(APPARMOR_RESTRICT),
        max_user_namespaces=_read(MAX_USER_NAMESPACES),
        runtime_dir=runtime,
        runtime_dir_owner=owner,
        crun=shutil.which("crun"),
        network_helper=shutil.which(NETWORK_HELPER),
        kernel=_kernel(),
        fuse_overlayfs=shutil.which("fuse-overlayfs"),
        tun_usable=os.access(TUN_DEVICE, os.R_OK | os.W_OK),
        delegation=find_delegation(),
        cgroup_v2=(CGROUP_ROOT / "cgroup.controllers").exists(),
    )
