"""Daemon settings: command-line flags and the JSON config file, named as dockerd names them."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from engine import __version__
from engine.errors import InvalidParameter
from engine.paths import DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_SOCKET, Paths
from engine.rootless.dirs import default_data_root, default_exec_root, default_host
from engine.rootless.mark import in_namespace
from engine.trust.policy import TrustPolicy, parse_trust
from engine.userns.access import check_root_access
from engine.userns.remap import resolve_remap

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
#: The storage drivers this engine has, by the names dockerd and Doca give them.
STORAGE_DRIVERS = {
    "overlayfs": "overlayfs",
    "overlay2": "overlayfs",
    "fuse-overlayfs": "fuse-overlayfs",
}

# Keys of the config file that SIGHUP may change on a running engine; the rest need a restart,
# as with dockerd's reloadable options.
RELOADABLE = ("log_level", "labels", "debug", "trust")

# Bounds on API clients. A new connection has this long to finish its TLS handshake and send
# its first whole request head; dockerd allows five minutes, which lets a few hundred idle
# sockets hold the engine's descriptors for as long.
DEFAULT_HEADER_TIMEOUT = 30.0
# A kept-alive connection waits this long for its next request head; longer than the idle
# timeouts of the usual clients (aiohttp 15 s, Go 90 s), so they close first and never race
# the engine's close with a new request.
DEFAULT_IDLE_TIMEOUT = 120.0
DEFAULT_MAX_CONNECTIONS = 512


def default_cert_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where dockerd looks for ca.pem, cert.pem and key.pem: ``$DOCKER_CERT_PATH``, else
    ``$DOCKER_CONFIG``, else ``~/.docker`` (``/root/.docker`` for root)."""
    env = os.environ if environ is None else environ
    for name in ("DOCKER_CERT_PATH", "DOCKER_CONFIG"):
        if env.get(name):
            return Path(env[name])
    return Path(env.get("HOME") or Path.home()) / ".docker"


@dataclass
class EngineConfig:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    data_root: Path = DEFAULT_DATA_ROOT
    exec_root: Path = DEFAULT_EXEC_ROOT
    pidfile: Path | None = None
    log_level: str = "info"
    debug: bool = False
    config_file: Path | None = None
    bridge: str = "doca0"
    bip: str = ""  # the default bridge's address and prefix, e.g. 172.30.0.1/16
    default_address_pools: list[str] = field(default_factory=list)  # "base=…,size=…"
    mtu: int = 0
    labels: list[str] = field(default_factory=list)
    insecure_tcp: bool = False
    group: str = "doca"
    # Registries reached without verified TLS: CIDRs or host[:port] (loopback always is).
    insecure_registries: list[str] = field(default_factory=list)
    # Docker Hub mirrors, tried before Docker Hub itself on a pull.
    registry_mirrors: list[str] = field(default_factory=list)
    # TLS of tcp:// listeners, as dockerd's flags; None is "not given" (see tls_enabled).
    tls: bool | None = None
    tlsverify: bool | None = None
    tlscacert: Path = field(default_factory=lambda: default_cert_dir() / "ca.pem")
    tlscert: Path = field(default_factory=lambda: default_cert_dir() / "cert.pem")
    tlskey: Path = field(default_factory=lambda: default_cert_dir() / "key.pem")
    api_header_timeout: float = DEFAULT_HEADER_TIMEOUT
    api_idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    api_max_connections: int = DEFAULT_MAX_CONNECTIONS  # per listener; 0 is no limit
    # --userns-remap; load_config resolves it to "user:group" as dockerd does ("" is off).
    userns_remap: str = ""
    # Repositories whose images need a signature (config file only; see engine.trust.policy).
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    # Run as an unprivileged user in a user namespace (engine.rootless); on whenever a
    # non-root user starts the engine.
    rootless: bool = False
    # "overlayfs" (dockerd's "overlay2" is taken as it), "fuse-overlayfs", or "" to choose:
    # overlayfs, unless a rootless engine's kernel cannot mount it in a user namespace.
    storage_driver: str = ""

    @property
    def paths(self) -> Paths:
        return Paths(self.data_root, self.exec_root)

    @property
    def tls_enabled(self) -> bool:
        """dockerd turns TLS on for ``--tls`` and for ``--tlsverify`` given with any value."""
        return bool(self.tls) or self.tlsverify is not None

    @property
    def tls_verify(self) -> bool:
        """Whether clients must present a certificate signed by ``tlscacert``: ``--tls``
        alone asks for one too, unless ``--tlsverify=false`` says otherwise."""
        if self.tlsverify is not None:
            return self.tlsverify
        return bool(self.tls)

    @property
    def python_log_level(self) -> int:
        if self.debug:
            return logging.DEBUG
        return {"warn": logging.WARNING, "fatal": logging.CRITICAL}.get(
            self.log_level, getattr(logging, self.log_level.upper(), logging.INFO)
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doca-engine",
        description="A container engine that speaks the Docker Engine API.",
    )
    parser.add_argument(
        "-v", "--version", action="version", version=f"Doca Engine version {__version__}"
    )
    parser.add_argument(
        "-H",
        "--host",
        dest="hosts",
        action="append",
        metavar="ADDR",
        help="address to listen on: unix://PATH, fd:// or tcp://HOST[:PORT] (port 2376 with "
        f"TLS, else 2375; default {DEFAULT_SOCKET})",
    )
    parser.add_argument(
        "--data-root", type=Path, help=f"persistent state (default {DEFAULT_DATA_ROOT})"
    )
    parser.add_argument(
        "--exec-root", type=Path, help=f"runtime state (default {DEFAULT_EXEC_ROOT})"
    )
    parser.add_argument("-p", "--pidfile", type=Path, help="write the daemon's PID to this file")
    parser.add_argument(
        "-l", "--log-level", choices=LOG_LEVELS, help="logging level (default info)"
    )
    parser.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    parser.add_argument(
        "--config-file", type=Path, help="JSON file with the same keys as the flags"
    )
    parser.add_argument(
        "-b", "--bridge", help="bridge for the default network; 'none' disables it (default doca0)"
    )
    parser.add_argument("--bip", help="the default bridge's address and prefix (CIDR)")
    parser.add_argument(
        "--default-address-pool",
        dest="default_address_pools",
        action="append",
        metavar="base=CIDR,size=N",
        help="where networks without a --subnet get theirs (repeatable)",
    )
    parser.add_argument("--mtu", type=int, help="MTU of the default bridge's interfaces")
    parser.add_argument("--label", dest="labels", action="append", help="engine label key=value")
    parser.add_argument(
        "--insecure-tcp",
        action="store_true",
        default=None,
        help="allow a tcp:// host without TLS client verification; only on loopback addresses",
    )
    parser.add_argument("--group", help="group given access to the unix socket (default doca)")
    parser.add_argument(
        "--tls",
        nargs="?",
        const=True,
        type=_flag_bool,
        metavar="BOOL",
        help="use TLS on tcp:// hosts; implied by --tlsverify",
    )
    parser.add_argument(
        "--tlsverify",
        nargs="?",
        const=True,
        type=_flag_bool,
        metavar="BOOL",
        help="use TLS and accept only clients with a certificate signed by --tlscacert",
    )
    certs = default_cert_dir()
    parser.add_argument(
        "--tlscacert",
        type=Path,
        metavar="PATH",
        help=f"trust client certificates signed only by this CA (default {certs / 'ca.pem'})",
    )
    parser.add_argument(
        "--tlscert",
        type=Path,
        metavar="PATH",
        help=f"the engine's TLS certificate (default {certs / 'cert.pem'})",
    )
    parser.add_argument(
        "--tlskey",
        type=Path,
        metavar="PATH",
        help=f"the engine's TLS key (default {certs / 'key.pem'})",
    )
    parser.add_argument(
        "--api-header-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds a new API connection has to send its first request head "
        f"(default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--api-idle-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds an idle keep-alive API connection stays open "
        f"(default {DEFAULT_IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--api-max-connections",
        type=int,
        metavar="N",
        help="API connections each listener serves at once, 0 for no limit "
        f"(default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--insecure-registry",
        dest="insecure_registries",
        action="append",
        metavar="HOST|CIDR",
        help="registry reached over plain HTTP or unverified TLS (repeatable)",
    )
    parser.add_argument(
        "--registry-mirror",
        dest="registry_mirrors",
        action="append",
        metavar="URL",
        help="Docker Hub mirror tried before Docker Hub on a pull (repeatable)",
    )
    parser.add_argument(
        "--userns-remap",
        metavar="default|USER[:GROUP]|UID[:GID]",
        help="run containers in user namespaces, root mapped to the user's /etc/subuid and "
        "/etc/subgid ranges ('default': the dockremap user, created if missing)",
    )
    parser.add_argument(
        "-s",
        "--storage-driver",
        help="overlayfs (or overlay2) or fuse-overlayfs (default: overlayfs, fuse-overlayfs for "
        "a rootless engine whose kernel cannot mount overlayfs in a user namespace)",
    )
    parser.add_argument(
        "--rootless",
        action="store_true",
        default=None,
        help="run as an unprivileged user in a user namespace, state under the XDG "
        "directories (the default for a non-root user)",
    )
    return parser


def _flag_bool(value: str) -> bool:
    """A boolean flag's value as Go's strconv.ParseBool reads it (``--tlsverify=false``)."""
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def _file_values(path: Path) -> dict[str, Any]:
    """Read the config file; keys are spelt as the long flags are (``data-root``, ``hosts``)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise InvalidParameter(
            f"unable to configure the engine: open {path}: no such file"
        ) from exc
    except OSError as exc:
        raise InvalidParameter(f"unable to configure the engine: {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"unable to configure the engine: {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidParameter(f"unable to configure the engine: {path}: not a JSON object")
    known = {f.name for f in fields(EngineConfig)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name == "host":
            name = "hosts"
        if name not in known or name == "config_file":
            raise InvalidParameter(
                f"unable to configure the engine: {path}: unknown directive {key!r}"
            )
        values[name] = value
    if "trust" in values:
        # Key paths are relative to the file that names them.
        try:
            values["trust"] = parse_trust(values["trust"], path.absolute().parent)
        except InvalidParameter as exc:
            raise InvalidParameter(
                f"unable to configure the engine: {path}: {exc.message}"
            ) from None
    return values


def _coerce(name: str, value: Any) -> Any:
    if name == "trust" and isinstance(value, TrustPolicy):
        return value  # parsed with the file, which relative key paths need
    if name in ("data_root", "exec_root", "pidfile", "tlscacert", "tlscert", "tlskey"):
        if value is None and name == "pidfile":
            return None
        if not isinstance(value, (str, Path)) or not str(value):
            raise InvalidParameter(f"{name.replace('_', '-')} must be a path")
        return Path(value)
    if name == "mtu":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise InvalidParameter("mtu must be a number between 0 and 65535")
        return value
    if name == "default_address_pools" and isinstance(value, list):
        # daemon.json spells pools as dockerd's: [{"base": "10.10.0.0/16", "size": 24}]
        value = [
            f"base={v.get('base')},size={v.get('size')}" if isinstance(v, dict) else v
            for v in value
        ]
    if name == "registry_mirrors":
        return [_mirror(v) for v in _strings(name, value)]
    if name == "insecure_registries":
        return [_insecure_registry(v) for v in _strings(name, value)]
    if name in ("hosts", "labels", "default_address_pools"):
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameter(f"{name.replace('_', '-')} must be a list of strings")
        return list(value)
    if name in ("api_header_timeout", "api_idle_timeout"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not 0 < value < math.inf:
            raise InvalidParameter(f"{name.replace('_', '-')} must be a number of seconds above 0")
        return float(value)
    if name == "api_max_connections":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidParameter("api-max-connections must be a number, 0 or more")
        return value
    if name in ("debug", "insecure_tcp", "tls", "tlsverify", "rootless"):
        if not isinstance(value, bool):
            raise InvalidParameter(f"{name.replace('_', '-')} must be true or false")
        return value
    if name == "storage_driver":
        if value not in STORAGE_DRIVERS:
            raise InvalidParameter(f"error initializing graphdriver: driver not supported: {value}")
        return STORAGE_DRIVERS[value]
    if name == "log_level" and value not in LOG_LEVELS:
        raise InvalidParameter(f"invalid log level {value!r}")
    if not isinstance(value, str):
        raise InvalidParameter(f"{name.replace('_', '-')} must be a string")
    return value


def _strings(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"{name.replace('_', '-')} must be a list of strings")
    return list(value)


def _mirror(value: str) -> str:
    """A mirror URL as dockerd's ValidateMirror accepts it: http(s), host, no query."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise InvalidParameter(f"invalid mirror: unsupported scheme {scheme!r} in {value!r}")
    host = rest.split("/", 1)[0]
    if not host or "?" in rest or "#" in rest or "@" in host:
        raise InvalidParameter(f"invalid mirror: {value!r} is not a registry URL")
    return value.rstrip("/")


def _insecure_registry(value: str) -> str:
    """A CIDR or ``host[:port]``; a scheme is tolerated and dropped, as dockerd does."""
    entry = value.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise InvalidParameter(f"invalid insecure registry {value!r}: {exc}") from exc
    elif not entry or "://" in entry or any(c.isspace() for c in entry):
        raise InvalidParameter(f"invalid insecure registry {value!r}")
    return entry


def load_config(argv: list[str] | None = None) -> EngineConfig:
    """Merge defaults, the config file and flags; like dockerd, a key set in both is an error."""
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if v is not None}
    config_file = flags.pop("config_file", None)
    file_values = _file_values(config_file) if config_file else {}
    clash = sorted(set(flags) & set(file_values))
    if clash:
        names = ", ".join(name.replace("_", "-") for name in clash)
        raise InvalidParameter(
            "the following directives are specified both as a flag and in the configuration "
            f"file: {names}"
        )
    config = EngineConfig(config_file=config_file)
    for name, value in {**file_values, **flags}.items():
        setattr(config, name, _coerce(name, value))
    if os.geteuid() != 0 or in_namespace():
        config.rootless = True
    if config.rootless:
        _rootless_defaults(config, {*file_values, *flags})
    if not config.data_root.is_absolute():
        config.data_root = Path(os.path.abspath(config.data_root))
    if config.userns_remap:
        remap = resolve_remap(config.userns_remap)
        if remap is not None:
            check_root_access(config.data_root, remap.mapping.root_pair)
        config.userns_remap = remap.spec if remap else ""
    return config


def _rootless_defaults(config: EngineConfig, given: set[str]) -> None:
    """The XDG directories for what was not given, as rootless dockerd takes them."""
    if config.userns_remap:
        raise InvalidParameter("--userns-remap is not supported in rootless mode")
    if "data_root" not in given:
        config.data_root = default_data_root(os.environ)
    if "exec_root" not in given:
        config.exec_root = default_exec_root(os.environ)
    if "hosts" not in given:
        config.hosts = [default_host(os.environ)]


def reload_config(current: EngineConfig) -> list[str]:
    """Apply the reloadable keys of the config file to ``current``; return the names changed."""
    if current.config_file is None:
        return []
    values = _file_values(current.config_file)
    changed = []
    for name in RELOADABLE:
        if name in values:
            value = _coerce(name, values[name])
            if getattr(current, name) != value:
                setattr(current, name, value)
                changed.append(name)
    return changed
