"""The trust policy: its place in daemon.json, key loading, and which rule covers a repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.config import load_config, reload_config
from engine.errors import InvalidParameter
from engine.trust.keys import generate_key_pair
from engine.trust.policy import REMEMBERED, TrustPolicy, normalize_pattern, parse_trust


@pytest.fixture
def public_pem() -> str:
    return generate_key_pair()[1].decode()


def _daemon_json(path: Path, trust: Any) -> Path:
    path.write_bytes(orjson.dumps({"trust": trust}))
    return path


def test_policy_from_the_config_file(tmp_path: Path, public_pem: str) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "release.pub").write_text(public_pem)
    other = generate_key_pair()[1].decode()
    daemon = _daemon_json(
        tmp_path / "daemon.json",
        {
            "127.0.0.1:5000/signed/*": {
                "require-signature": True,
                "keys": ["keys/release.pub", other],
            },
            "127.0.0.1:5000/signed/scratch/*": {"require-signature": False},
        },
    )
    config = load_config(["--config-file", str(daemon)])
    signed, scratch = config.trust.rules
    assert signed.pattern == "127.0.0.1:5000/signed/*" and signed.require_signature
    assert [key.name for key in signed.keys] == [
        str(tmp_path / "keys" / "release.pub"),
        "key #2 of trust '127.0.0.1:5000/signed/*'",
    ]
    assert not scratch.require_signature and scratch.keys == ()
    assert load_config([]).trust == TrustPolicy()


@pytest.mark.parametrize(
    ("trust", "message"),
    [
        ([], "trust must be an object"),
        ({"a/b": True}, "must be an object with require-signature"),
        ({"a/b": {"require-signature": "yes"}}, "require-signature must be true or false"),
        ({"a/b": {"require-signature": True}}, "needs at least one key"),
        ({"a/b": {"require-signature": True, "keys": [1]}}, "keys must be a list"),
        ({"a/b": {"require-signature": False, "keys": ["x.pub"]}}, "require-signature is false"),
        ({"a/b": {"require-signature": True, "key": ["x.pub"]}}, "unknown directive 'key'"),
        ({"a/b": {"require-signature": True, "keys": ["missing.pub"]}}, "cannot read key"),
        ({"a/b": {"require-signature": True, "keys": ["-----BEGIN junk"]}}, "not a PEM public"),
        ({"a b": {"require-signature": False}}, "invalid repository pattern"),
        ({"a/b:latest": {"require-signature": False}}, "names a tag"),
        (
            {
                "busybox": {"require-signature": False},
                "docker.io/library/busybox": {"require-signature": False},
            },
            "repeats pattern",
        ),
    ],
)
def test_bad_policies_stop_the_engine(tmp_path: Path, trust: Any, message: str) -> None:
    daemon = _daemon_json(tmp_path / "daemon.json", trust)
    with pytest.raises(InvalidParameter, match=message) as raised:
        load_config(["--config-file", str(daemon)])
    assert raised.value.message.startswith(f"unable to configure the engine: {daemon}: ")


def test_sighup_reloads_the_policy(tmp_path: Path, public_pem: str) -> None:
    daemon = _daemon_json(tmp_path / "daemon.json", {})
    config = load_config(["--config-file", str(daemon)])
    assert config.trust.rules == ()
    _daemon_json(daemon, {"reg.example/*": {"require-signature": True, "keys": [public_pem]}})
    assert reload_config(config) == ["trust"]
    assert config.trust.rule_for("reg.example/app") is not None
    remembered = config.trust
    assert reload_config(config) == []  # the same policy: what it verified is kept
    assert config.trust is remembered


@pytest.mark.parametrize(
    ("pattern", "normalized"),
    [
        ("busybox", "docker.io/library/busybox"),
        ("myorg/*", "docker.io/myorg/*"),
        ("index.docker.io/library/*", "docker.io/library/*"),
        ("localhost/app", "localhost/app"),
        ("127.0.0.1:5000/signed/*", "127.0.0.1:5000/signed/*"),
        ("[::1]:5000/x", "[::1]:5000/x"),
        ("*.example.com/*", "*.example.com/*"),
        ("*", "*"),
    ],
)
def test_patterns_are_normalized_as_references(pattern: str, normalized: str) -> None:
    assert normalize_pattern(pattern) == normalized


def test_the_most_specific_rule_wins(public_pem: str) -> None:
    required = {"require-signature": True, "keys": [public_pem]}
    policy = parse_trust(
        {
            "*": {"require-signature": False},
            "reg.example/*": required,
            "reg.example/team/*": {"require-signature": False},
            "reg.example/team/app": required,
        },
        Path("/"),
    )

    def pattern(name: str) -> str | None:
        rule = policy.rule_for(name)
        return rule.pattern if rule else None

    assert pattern("reg.example/x") == "reg.example/*"
    assert pattern("reg.example/a/b/c") == "reg.example/*"
    assert pattern("reg.example/team/tool") == "reg.example/team/*"
    assert pattern("reg.example/team/app") == "reg.example/team/app"
    assert pattern("docker.io/library/busybox") == "*"
    assert parse_trust({"reg.example/*": required}, Path("/")).rule_for("reg.example") is None
    # "." in a pattern is a literal, not a regular expression's any-character.
    assert parse_trust({"reg.example/*": required}, Path("/")).rule_for("regxexample/a") is None


def test_verified_digests_are_remembered_within_bounds(public_pem: str) -> None:
    policy = parse_trust({"r.example/*": {"require-signature": True, "keys": [public_pem]}}, Path())
    rule = policy.rules[0]
    digest = "sha256:" + "a" * 64
    assert not policy.is_verified(rule, "r.example/a", digest)
    policy.remember(rule, "r.example/a", digest)
    assert policy.is_verified(rule, "r.example/a", digest)
    assert not policy.is_verified(rule, "r.example/b", digest)
    for index in range(REMEMBERED):
        policy.remember(rule, f"r.example/n{index}", digest)
    assert not policy.is_verified(rule, "r.example/a", digest)
