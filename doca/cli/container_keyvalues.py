"""Key-value and list flags of `run`/`create`/`exec` as the docker CLI reads them: ``-e``,
``--env-file``, ``-l``, ``--label-file``, ``--add-host``, ``--sysctl``, ``--security-opt``,
``--dns-search``, ``--cap-add``, device cgroup rules, MAC and IP addresses. ValueError carries
the docker CLI's wording."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping

_WHITESPACE = " \t"
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4})")
_SYSCTLS = frozenset(
    "kernel.msgmax kernel.msgmnb kernel.msgmni kernel.sem kernel.shmall kernel.shmmax "
    "kernel.shmmni kernel.shm_rmid_forced".split()
)
_SECCOMP_BUILTIN = ("builtin", "unconfined")
_DEVICE_RULE = re.compile(r"[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}")
_DOMAIN = re.compile(
    r"(:?(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
    r"(:?\.(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*"
)


def validate_env(value: str, environ: Mapping[str, str]) -> str:
    """One ``-e``: ``K=V`` as it is; a bare ``K`` takes the value it has here, if any."""
    key, sep, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if sep or key not in environ:
        return value
    return f"{key}={environ[key]}"


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(_WHITESPACE)
    if not key:
        raise ValueError(f"invalid label '{value}': empty name")
    if any(c in key for c in _WHITESPACE):
        raise ValueError(f"label '{key}' contains whitespaces")
    return value


def read_kv_file(path: str, environ: Mapping[str, str] | None) -> list[str]:
    """The lines of an env or label file (opts.parseKeyValueFile): blank lines and ``#``
    comments skipped; with ``environ``, a bare name takes its value from there."""
    try:
        with open(path, "rb") as source:
            raw_lines = source.read().split(b"\n")
    except OSError as error:
        raise ValueError(f"open {path}: {(error.strerror or str(error)).lower()}") from None
    lines: list[str] = []
    for number, raw in enumerate(raw_lines, start=1):
        raw = raw.removesuffix(b"\r")
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise ValueError(
                f"env file {path} contains invalid utf8 bytes at line {number}: "
                f"[{' '.join(str(b) for b in raw)}]"
            ) from None
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip(_WHITESPACE)
        if any(c in name for c in _WHITESPACE):
            raise ValueError(
                f"poorly formatted environment: variable '{name}' contains whitespaces"
            )
        if not name:
            raise ValueError(f"poorly formatted environment: no variable name on line '{line}'")
        if sep:
            lines.append(f"{name}={value}")
        elif environ is not None and name.strip() in environ:
            lines.append(f"{name.strip()}={environ[name.strip()]}")
        else:
            lines.append(line)
    return lines


def read_env(files: Iterable[str], values: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """``--env-file`` lines, then ``-e`` values (opts.ReadKVEnvStrings)."""
    found = [line for path in files for line in read_kv_file(path, environ)]
    return found + [validate_env(value, environ) for value in values]


def read_labels(files: Iterable[str], values: Iterable[str]) -> dict[str, str]:
    """``--label-file`` lines, then ``-l`` values, as a map (later ones win)."""
    found = [line for path in files for line in read_kv_file(path, None)]
    found += [validate_label(value) for value in values]
    return {key: value for key, _, value in (line.partition("=") for line in found)}


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def validate_ip(text: str) -> str:
    """An IP address in canonical form (opts.ValidateIPAddress), as ``--dns`` takes it."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"IP address is not correctly formatted: {text}") from None


def validate_extra_host(value: str) -> str:
    """``--add-host NAME:IP`` or ``NAME=IP`` (IPv6 possibly in brackets) as ``NAME:IP``."""
    name, sep, address = value.partition("=")
    if not sep:
        name, sep, address = value.partition(":")
    if not sep or not name or ":" in name:
        raise ValueError(f'bad format for add-host: "{value}"')
    if address != "host-gateway":
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        if not is_ip(address):
            raise ValueError(f'invalid IP address in add-host: "{address}"')
    return f"{name}:{address}"


def validate_mac(value: str) -> str:
    if not _MAC.fullmatch(value):
        raise ValueError(f"{value} is not a valid mac address")
    return value


def validate_sysctl(value: str) -> str:
    key, sep, _ = value.partition("=")
    if sep and key and (key in _SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
        return value
    raise ValueError(f"sysctl '{value}' is not allowed")


def security_options(values: Iterable[str]) -> tuple[list[str], bool]:
    """``--security-opt`` values as the engine takes them (a seccomp profile file's JSON
    inlined), and whether ``systempaths=unconfined`` asked for no masked paths."""
    options: list[str] = []
    unconfined = False
    for option in values:
        key, sep, value = option.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = option.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise ValueError(f'Invalid --security-opt: "{option}"')
        if key == "seccomp" and value not in _SECCOMP_BUILTIN:
            option = "seccomp=" + _compact_profile(value)
        if option == "systempaths=unconfined":
            unconfined = True
            continue
        options.append(option)
    return options, unconfined


def _compact_profile(path: str) -> str:
    try:
        with open(path, "rb") as source:
            text = source.read()
    except OSError as error:
        reason = f"open {path}: {(error.strerror or str(error)).lower()}"
        raise ValueError(f"opening seccomp profile ({path}) failed: {reason}") from None
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError as error:
        raise ValueError(f"compacting json for seccomp profile ({path}) failed: {error}") from None


def validate_dns_search(value: str) -> str:
    value = value.strip(" ")
    if value != "." and (not _DOMAIN.fullmatch(value) or len(value) > 255):
        raise ValueError(f"{value} is not a valid domain")
    return value


def validate_device_rule(value: str) -> str:
    if not _DEVICE_RULE.fullmatch(value):
        raise ValueError(f"invalid device cgroup format '{value}'")
    return value


def capabilities(names: Iterable[str]) -> list[str] | None:
    """As the docker client sends them: upper case, ``CAP_`` prefixed, unique, sorted."""
    found = {n.upper() if n.upper() == "ALL" else "CAP_" + n.upper().removeprefix("CAP_")
             for n in names}  # fmt: skip
    return sorted(found) or None
