"""Image reference parsing must agree with Docker's (github.com/distribution/reference)."""

from __future__ import annotations

import re
import time

import pytest

from engine.errors import InvalidParameter
from engine.images.reference import (
    Reference,
    is_image_id_like,
    parse_normalized_named,
    parse_reference,
    parse_tag,
    validate_digest,
)

HEX64 = "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
DIGEST = f"sha256:{HEX64}"
SHA512 = "sha512:" + "f" * 128
MUST_BE_LOWERCASE = "invalid reference format: repository name ({}) must be lowercase"

# input, domain, path, tag, digest, familiar(), str()
GOOD = [
    ("busybox", "docker.io", "library/busybox", None, None,
     "busybox", "docker.io/library/busybox"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None,
     "busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io", "library/busybox", None, None,
     "busybox", "docker.io/library/busybox"),
    ("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", None,
     "busybox:latest", "docker.io/library/busybox:latest"),
    ("docker.io/ubuntu", "docker.io", "library/ubuntu", None, None,
     "ubuntu", "docker.io/library/ubuntu"),
    ("index.docker.io/foo/bar", "docker.io", "foo/bar", None, None,
     "foo/bar", "docker.io/foo/bar"),
    ("index.docker.io/busybox", "docker.io", "library/busybox", None, None,
     "busybox", "docker.io/library/busybox"),
    ("library/foo/bar", "docker.io", "library/foo/bar", None, None,
     "library/foo/bar", "docker.io/library/foo/bar"),
    ("localhost/app", "localhost", "app", None, None,
     "localhost/app", "localhost/app"),
    ("localhost:5000/app:v1", "localhost:5000", "app", "v1", None,
     "localhost:5000/app:v1", "localhost:5000/app:v1"),
    ("localhost:5000/app", "localhost:5000", "app", None, None,
     "localhost:5000/app", "localhost:5000/app"),
    # Without a "/" there is no domain: this is the image "localhost" tagged "5000".
    ("localhost:5000", "docker.io", "library/localhost", "5000", None,
     "localhost:5000", "docker.io/library/localhost:5000"),
    ("myhost:5000", "docker.io", "library/myhost", "5000", None,
     "myhost:5000", "docker.io/library/myhost:5000"),
    ("ghcr.io/org/sub/app:tag", "ghcr.io", "org/sub/app", "tag", None,
     "ghcr.io/org/sub/app:tag", "ghcr.io/org/sub/app:tag"),
    (f"busybox@{DIGEST}", "docker.io", "library/busybox", None, DIGEST,
     f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
    (f"busybox:1.36@{DIGEST}", "docker.io", "library/busybox", "1.36", DIGEST,
     f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}"),
    (f"busybox@{SHA512}", "docker.io", "library/busybox", None, SHA512,
     f"busybox@{SHA512}", f"docker.io/library/busybox@{SHA512}"),
    ("a_b/c__d-e.f", "docker.io", "a_b/c__d-e.f", None, None,
     "a_b/c__d-e.f", "docker.io/a_b/c__d-e.f"),
    ("docker---rules/docker", "docker.io", "docker---rules/docker", None, None,
     "docker---rules/docker", "docker.io/docker---rules/docker"),
    ("[::1]:5000/x", "[::1]:5000", "x", None, None,
     "[::1]:5000/x", "[::1]:5000/x"),
    ("[2001:db8::1]/repo:tag", "[2001:db8::1]", "repo", "tag", None,
     "[2001:db8::1]/repo:tag", "[2001:db8::1]/repo:tag"),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None,
     "192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050"),
    # Tags may be uppercase; only the repository name must be lowercase.
    ("busybox:LATEST", "docker.io", "library/busybox", "LATEST", None,
     "busybox:LATEST", "docker.io/library/busybox:LATEST"),
    # Docker takes an uppercase first component for a registry host, so these are valid.
    ("UPPER/x", "UPPER", "x", None, None, "UPPER/x", "UPPER/x"),
    ("Foo/bar:v2", "Foo", "bar", "v2", None, "Foo/bar:v2", "Foo/bar:v2"),
    # With a host in front, 64 hex characters are a name, not an ID.
    (f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}", None, None,
     HEX64, f"docker.io/library/{HEX64}"),
    # Looks like a host (has a "."), but is not a valid one: Docker keeps the whole thing as
    # the path, with no domain at all.
    ("a_b.c/x", "", "a_b.c/x", None, None, "a_b.c/x", "a_b.c/x"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest", "familiar", "full"),
    GOOD,
    ids=[case[0][:40] for case in GOOD],
)
def test_parse_normalized_named_accepts(
    text: str,
    domain: str,
    path: str,
    tag: str | None,
    digest: str | None,
    familiar: str,
    full: str,
) -> None:
    ref = parse_normalized_named(text)
    assert ref == Reference(domain=domain, path=path, tag=tag, digest=digest)
    assert ref.familiar() == familiar
    assert str(ref) == full
    # Docker's own round trip: the familiar and the full form parse back to the same thing
    # (except a familiar 64-hex name, see test_hex_name_familiar_form_does_not_round_trip).
    if ref.familiar() != HEX64:
        assert parse_normalized_named(ref.familiar()) == ref
    assert parse_normalized_named(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Busybox", MUST_BE_LOWERCASE.format("library/Busybox")),
        ("Busybox:Latest", MUST_BE_LOWERCASE.format("library/Busybox")),
        ("docker/Docker", MUST_BE_LOWERCASE.format("docker/Docker")),
        ("test:5000/Uppercase/lowercase:tag",
         MUST_BE_LOWERCASE.format("Uppercase/lowercase")),
        # Docker cuts the name at the first ":", which here is inside the digest.
        (f"busybox@SHA256:{HEX64}",
         MUST_BE_LOWERCASE.format("library/busybox@SHA256")),
        # An uppercase "host" that is no valid host: lowercasing would make it parse.
        ("Foo_bar/x", "repository name must be lowercase"),
        (HEX64, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
        ("", "invalid reference format"),
        (":tag", "invalid reference format"),
        ("a:b:c", "invalid reference format"),
        ("-bad", "invalid reference format"),
        ("bad-", "invalid reference format"),
        ("-docker/docker", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("docker/", "invalid reference format"),
        ("dock..er/docker", "invalid reference format"),
        ("____/____", "invalid reference format"),
        ("busybox:" + "a" * 129, "invalid reference format"),
        ("busybox:-tag", "invalid reference format"),
        ("busy box", "invalid reference format"),
        (" busybox", "invalid reference format"),
        ("busybox ", "invalid reference format"),
        ("busybox\n", "invalid reference format"),
        ("büsybox", "invalid reference format"),
        ("busybox:tägg", "invalid reference format"),
        ("https://github.com/docker/docker", "invalid reference format"),
        ("[::1]:5000", "invalid reference format"),
        ("[fe80::1%eth0]:5000/debian", "invalid reference format"),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format"),
        ("busybox@sha256:short", "invalid reference format"),
        ("busybox@", "invalid reference format"),
        ("busybox@sha256:" + "a" * 63, "invalid checksum digest length"),
        ("busybox@sha256:" + "a" * 65, "invalid checksum digest length"),
        ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("a/" + "b" * 254, "repository name must not be more than 255 characters"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) and value else repr(value),
)  # fmt: skip
def test_parse_normalized_named_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as excinfo:
        parse_normalized_named(text)
    assert excinfo.value.message == message
    assert str(excinfo.value) == message


def test_hex_name_familiar_form_does_not_round_trip() -> None:
    ref = parse_normalized_named(f"docker.io/library/{HEX64}")
    assert ref.familiar() == HEX64
    with pytest.raises(InvalidParameter, match="cannot specify 64-byte hexadecimal strings"):
        parse_normalized_named(ref.familiar())


def test_path_length_limit_counts_the_path_not_the_domain() -> None:
    ref = parse_normalized_named("example.com/" + "a" * 255)
    assert ref.domain == "example.com"
    assert len(ref.path) == 255
    with pytest.raises(InvalidParameter, match="not be more than 255"):
        parse_normalized_named("example.com/" + "a" * 256)


def test_pathological_input_is_rejected_quickly() -> None:
    started = time.monotonic()
    for text in ("a" * 100_000 + "!", "a-" * 50_000 + "/", "a." * 50_000 + ":x/"):
        with pytest.raises(InvalidParameter):
            parse_normalized_named(text)
    assert time.monotonic() - started < 2


def test_parse_reference_adds_latest_only_when_name_only() -> None:
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    assert parse_reference("busybox").familiar() == "busybox:latest"
    assert parse_reference("localhost:5000/app").familiar() == "localhost:5000/app:latest"
    assert parse_reference("busybox:1.36").tag == "1.36"
    digested = parse_reference(f"busybox@{DIGEST}")
    assert digested.tag is None
    assert digested.digest == DIGEST


def test_parse_reference_default_tag() -> None:
    assert parse_reference("busybox", default_tag="edge").tag == "edge"
    assert parse_reference("busybox", default_tag=None).is_name_only
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        parse_reference("busybox", default_tag="-bad")


def test_parse_reference_raises_like_parse_normalized_named() -> None:
    with pytest.raises(InvalidParameter, match=re.escape("(library/Busybox) must be lowercase")):
        parse_reference("Busybox")


def test_reference_predicates_and_names() -> None:
    name_only = parse_normalized_named("org/app")
    assert (name_only.is_name_only, name_only.is_tagged, name_only.is_digested) == (
        True,
        False,
        False,
    )
    assert name_only.name == "docker.io/org/app"
    assert name_only.familiar_name == "org/app"

    both = parse_normalized_named(f"localhost:5000/app:v1@{DIGEST}")
    assert (both.is_name_only, both.is_tagged, both.is_digested) == (False, True, True)
    assert both.name == "localhost:5000/app"
    assert both.familiar_name == "localhost:5000/app"
    assert parse_normalized_named("busybox").familiar_name == "busybox"


def test_with_tag_and_with_digest_keep_the_other_part() -> None:
    tagged = parse_normalized_named("busybox:1.36")
    pinned = tagged.with_digest(DIGEST)
    assert pinned.familiar() == f"busybox:1.36@{DIGEST}"
    retagged = pinned.with_tag("1.37")
    assert str(retagged) == f"docker.io/library/busybox:1.37@{DIGEST}"
    # Frozen: the originals are unchanged.
    assert tagged.digest is None
    assert pinned.tag == "1.36"


def test_with_tag_and_with_digest_validate() -> None:
    ref = parse_normalized_named("busybox")
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        ref.with_tag("-foo")
    with pytest.raises(InvalidParameter, match="invalid checksum digest format"):
        ref.with_digest("foo")


@pytest.mark.parametrize("tag", ["v1", "latest", "1.36", "_x", "A-b.C_d", "a" * 128])
def test_parse_tag_accepts(tag: str) -> None:
    assert parse_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a b", "a:b", "a/b", "x\n", "tä"])
def test_parse_tag_rejects(tag: str) -> None:
    with pytest.raises(InvalidParameter) as excinfo:
        parse_tag(tag)
    assert excinfo.value.message == "invalid tag format"


@pytest.mark.parametrize("digest", [DIGEST, "sha384:" + "0" * 96, SHA512])
def test_validate_digest_accepts(digest: str) -> None:
    assert validate_digest(digest) == digest


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("", "invalid checksum digest format"),
        ("sha256", "invalid checksum digest format"),
        ("sha256:", "invalid checksum digest format"),
        (":" + HEX64, "invalid checksum digest format"),
        ("sha256:" + HEX64.upper(), "invalid checksum digest format"),
        ("sha256:" + "g" * 64, "invalid checksum digest format"),
        ("sha256:" + HEX64 + "\n", "invalid checksum digest length"),
        ("sha256:" + HEX64[:-1], "invalid checksum digest length"),
        ("sha512:" + HEX64, "invalid checksum digest length"),
        ("md5:" + "a" * 32, "unsupported digest algorithm"),
        ("SHA256:" + HEX64, "invalid checksum digest format"),
    ],
)
def test_validate_digest_rejects(digest: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as excinfo:
        validate_digest(digest)
    assert excinfo.value.message == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DIGEST, True),
        (HEX64, True),
        (HEX64[:12], True),
        ("sha256:" + HEX64[:12], True),
        ("cafe", True),
        ("caf", False),
        (HEX64 + "a", False),
        (HEX64.upper(), False),
        ("sha512:" + HEX64, False),
        ("busybox", False),
        ("docker.io/library/busybox", False),
        ("", False),
        (HEX64 + "\n", False),
    ],
)
def test_is_image_id_like(text: str, expected: bool) -> None:
    assert is_image_id_like(text) is expected
