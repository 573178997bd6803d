"""The docker credential-helper protocol, pure: parse stdin, format stdout, compare server URLs.

Follows docker/docker-credential-helpers (`credentials/credentials.go`, `credentials/error.go`,
`registryurl/parse.go`):

- `store` reads one JSON object `{"ServerURL", "Username", "Secret"}`; like Go's `encoding/json`
  the keys match case-insensitively and unknown keys are ignored.
- `get` / `erase` read a server URL; surrounding whitespace is trimmed.
- Output is compact JSON with a trailing newline, escaped the way Go's encoder does it
  (`<`, `>`, `&` as `\\u003c`, ...), so `<token>` usernames look as the reference prints them.
- The URL is stored as given; lookups also match other spellings of the same registry
  (scheme or no scheme, host case, trailing slash, query string), and every Docker Hub alias
  means `https://index.docker.io/v1/` as in the docker CLI.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

NOT_FOUND = "credentials not found in native keychain"
MISSING_SERVER_URL = "no credentials server URL"
MISSING_USERNAME = "no credentials username"
MISSING_SECRET = "no credentials secret"

HUB_URL = "https://index.docker.io/v1/"
HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

ACTIONS = ("store", "get", "erase", "list", "version")


class ProtocolError(Exception):
    """Bad input; the message is printed to stdout as is and the helper exits 1."""


@dataclass(frozen=True)
class Credentials:
    server_url: str
    username: str
    secret: str


def _check_url_text(url: str) -> None:
    for ch in url:
        if ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or not ch.isprintable():
            raise ProtocolError(
                f"invalid server URL {url!r}: it contains whitespace or control characters"
            )


@dataclass(frozen=True)
class RegistryKey:
    """What two server URLs must share to name the same registry."""

    host: str
    port: int | None
    path: str


def registry_key(url: str) -> RegistryKey:
    """Parse `url` as `registryurl.Parse` does and reduce it to the parts lookups compare.

    Raises ProtocolError for an empty URL, odd characters, a non-http(s) scheme or no hostname.
    """
    if not url:
        raise ProtocolError(MISSING_SERVER_URL)
    _check_url_text(url)
    text = url if ("://" in url or url.startswith("//")) else "//" + url
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ProtocolError(f"invalid server URL {url!r}: {exc}") from None
    if parts.scheme not in ("", "http", "https"):
        raise ProtocolError(f"invalid server URL {url!r}: unsupported scheme: {parts.scheme}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ProtocolError(f"invalid server URL {url!r}: no hostname in URL")
    if host in HUB_HOSTS:
        return RegistryKey("index.docker.io", None, "/v1")
    path = parts.path.rstrip("/")
    if path == "/v1" or path == "/v2":
        # `docker login host` and `https://host/v1/` (old-style) name the same registry.
        path = ""
    return RegistryKey(host, port, path)


def normalise_server_url(url: str) -> str:
    """The docker CLI's key form: Hub → `https://index.docker.io/v1/`, others → host[:port]."""
    key = registry_key(url)
    if key.host == "index.docker.io":
        return HUB_URL
    host = f"[{key.host}]" if ":" in key.host else key.host
    hostport = host if key.port is None else f"{host}:{key.port}"
    return hostport + key.path


def same_registry(a: str, b: str) -> bool:
    """Whether two server URLs name the same registry (False if either is not a valid URL)."""
    try:
        return registry_key(a) == registry_key(b)
    except ProtocolError:
        return False


def _field(obj: dict[str, object], name: str) -> object:
    if name in obj:
        return obj[name]
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_store_input(data: str) -> Credentials:
    """Parse the JSON `store` receives. The ServerURL is kept as given (after validation)."""
    # The reference joins stdin lines without their newlines before decoding.
    text = "".join(data.splitlines())
    if not text.strip():
        raise ProtocolError(
            "no credentials on stdin: expected a JSON object with ServerURL, Username, Secret"
        )
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"invalid credentials JSON on stdin: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("invalid credentials JSON on stdin: expected an object")
    values: dict[str, str] = {}
    for name in ("ServerURL", "Username", "Secret"):
        value = _field(obj, name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ProtocolError(f"invalid credentials JSON on stdin: {name} must be a string")
        values[name] = value
    if not values["ServerURL"]:
        raise ProtocolError(MISSING_SERVER_URL)
    if not values["Username"]:
        raise ProtocolError(MISSING_USERNAME)
    if not values["Secret"]:
        raise ProtocolError(MISSING_SECRET)
    registry_key(values["ServerURL"])  # validates
    return Credentials(values["ServerURL"], values["Username"], values["Secret"])


def parse_server_url_input(data: str) -> str:
    """Parse the server URL `get` and `erase` receive (lines joined, whitespace trimmed)."""
    url = "".join(data.splitlines()).strip()
    if not url:
        raise ProtocolError(MISSING_SERVER_URL)
    registry_key(url)  # validates
    return url


def go_json(value: object) -> str:
    """JSON as Go's `json.Encoder` writes it: compact, HTML-safe escapes, UTF-8, newline."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text + "\n"


def format_get_output(server_url: str, username: str, secret: str) -> str:
    return go_json({"ServerURL": server_url, "Username": username, "Secret": secret})


def format_list_output(entries: dict[str, str]) -> str:
    # Go encodes map keys sorted.
    return go_json(dict(sorted(entries.items())))
