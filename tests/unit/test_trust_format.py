"""cosign's signature format: the simple-signing payload, the ``.sig`` image and ECDSA P-256
signatures, checked against a signature real cosign made."""

from __future__ import annotations

import base64
import json

import pytest

from engine.trust.keys import (
    KeyError_,
    generate_key_pair,
    load_private_key,
    load_public_key,
    public_key_of,
)
from engine.trust.payload import (
    PayloadError,
    docker_reference,
    read_claim,
    signature_tag,
    simple_signing_payload,
)
from engine.trust.signature_image import (
    OCI_CONFIG,
    OCI_MANIFEST,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    SignatureImageError,
    new_layer,
    sha256_digest,
    signature_config,
    signature_layers,
    signature_manifest,
)
from engine.trust.signatures import sign_payload, signature_valid

# A signature cosign made with a key pair, kept as a test fixture by containers/image
# (signature/fixtures/cosign.pub and dir-img-cosign-valid/signature-1): the public key, the
# payload layer's bytes and its dev.cosignproject.cosign/signature annotation.
COSIGN_PUB = (
    b"-----BEGIN PUBLIC KEY-----\n"
    b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFNLqFhf4fiN6o/glAuYnq2jYUeL0\n"
    b"vRuLu/z39pmbVwS9ff5AYnlwaP9sxREajdLY9ynM6G1sy6AAmb7Z63TsLg==\n"
    b"-----END PUBLIC KEY-----\n"
)
COSIGN_REFERENCE = "192.168.64.2:5000/cosign-signed-single-sample"
COSIGN_DIGEST = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
COSIGN_PAYLOAD = base64.b64decode(
    "eyJjcml0aWNhbCI6eyJpZGVudGl0eSI6eyJkb2NrZXItcmVmZXJlbmNlIjoiMTkyLjE2OC42NC4yOjUwMDAvY29z"
    "aWduLXNpZ25lZC1zaW5nbGUtc2FtcGxlIn0sImltYWdlIjp7ImRvY2tlci1tYW5pZmVzdC1kaWdlc3QiOiJzaGEy"
    "NTY6NjM0YThmMzViNWYxNmRjZjRhYWEwODIyYWRjMGIxOTY0YmI3ODZmY2ExMmY2ODMxZGU4ZGRjNDVlNTk4NmEw"
    "MCJ9LCJ0eXBlIjoiY29zaWduIGNvbnRhaW5lciBpbWFnZSBzaWduYXR1cmUifSwib3B0aW9uYWwiOm51bGx9"
)
COSIGN_SIGNATURE = (
    "MEYCIQDmtamqYPjMg81nqeBhptrPls44aA/r7PwLmspINJY4MwIh"
    "ANKRpqe2E9UCBtGFdPoz/8jAbaQm4uP4h+IpwKTE6ClR"
)


# -- payload --------------------------------------------------------------------------------


def test_payload_is_byte_for_byte_what_cosign_signs() -> None:
    assert simple_signing_payload(COSIGN_REFERENCE, COSIGN_DIGEST) == COSIGN_PAYLOAD
    assert json.loads(COSIGN_PAYLOAD) == {
        "critical": {
            "identity": {"docker-reference": COSIGN_REFERENCE},
            "image": {"docker-manifest-digest": COSIGN_DIGEST},
            "type": "cosign container image signature",
        },
        "optional": None,
    }


def test_claim_of_a_payload() -> None:
    claim = read_claim(COSIGN_PAYLOAD)
    assert (claim.docker_reference, claim.manifest_digest) == (COSIGN_REFERENCE, COSIGN_DIGEST)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"critical": 1}',
        b'{"critical": {"type": "atomic container signature", "image": {}}}',
        b'{"critical": {"type": "cosign container image signature", "image": {}}}',
    ],
)
def test_other_payloads_are_not_claims(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        read_claim(raw)


def test_docker_hub_references_are_spelt_as_cosign_spells_them() -> None:
    assert docker_reference("docker.io", "library/busybox") == "index.docker.io/library/busybox"
    assert docker_reference("127.0.0.1:5000", "a/b") == "127.0.0.1:5000/a/b"


def test_signature_tag() -> None:
    assert signature_tag(COSIGN_DIGEST) == f"sha256-{COSIGN_DIGEST[7:]}.sig"
    with pytest.raises(PayloadError):
        signature_tag("sha256:abc")
    with pytest.raises(PayloadError):
        simple_signing_payload('evil"/ref', COSIGN_DIGEST)


# -- signatures -----------------------------------------------------------------------------


def test_cosign_signature_verifies() -> None:
    key = load_public_key(COSIGN_PUB, "cosign.pub")
    assert signature_valid(key, COSIGN_PAYLOAD, COSIGN_SIGNATURE)


def test_tampering_breaks_the_cosign_signature() -> None:
    key = load_public_key(COSIGN_PUB, "cosign.pub")
    other_digest = COSIGN_DIGEST[:-1] + "1"
    other_payload = simple_signing_payload(COSIGN_REFERENCE, other_digest)
    assert not signature_valid(key, other_payload, COSIGN_SIGNATURE)
    flipped = bytearray(base64.b64decode(COSIGN_SIGNATURE))
    flipped[-1] ^= 1
    assert not signature_valid(key, COSIGN_PAYLOAD, base64.b64encode(flipped).decode())
    for garbage in ("", "!!!", "AAAA", "A" * 1000, COSIGN_SIGNATURE.rstrip("=") + "x"):
        assert not signature_valid(key, COSIGN_PAYLOAD, garbage)
    _, other_public = generate_key_pair()
    other_key = load_public_key(other_public, "other")
    assert not signature_valid(other_key, COSIGN_PAYLOAD, COSIGN_SIGNATURE)


def test_sign_and_verify_with_a_new_key_pair() -> None:
    private_pem, public_pem = generate_key_pair()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    private = load_private_key(private_pem, "doca.key")
    public = load_public_key(public_pem, "doca.pub")
    assert public_key_of(private, "doca.pub") == public
    signature = sign_payload(private, COSIGN_PAYLOAD)
    assert base64.b64decode(signature, validate=True)[0] == 0x30  # ASN.1 DER SEQUENCE
    assert signature_valid(public, COSIGN_PAYLOAD, signature)
    assert not signature_valid(public, COSIGN_PAYLOAD + b" ", signature)


def test_only_p256_keys_are_accepted() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    p384 = ec.generate_private_key(ec.SECP384R1())
    pem = p384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyError_, match="not an ECDSA P-256 public key"):
        load_public_key(pem, "p384.pub")
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyError_, match="not an ECDSA P-256 key"):
        load_private_key(ed, "ed.key")
    with pytest.raises(KeyError_, match="not a PEM public key"):
        load_public_key(b"hello", "junk.pub")
    private_pem, _ = generate_key_pair()
    with pytest.raises(KeyError_, match="not a PEM public key"):
        load_public_key(private_pem, "doca.key")


def test_encrypted_private_keys_are_refused_with_a_hint() -> None:
    cosign_key = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END"
    with pytest.raises(KeyError_, match="cosign's encrypted key format"):
        load_private_key(cosign_key, "cosign.key")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(KeyError_, match="encrypted"):
        load_private_key(encrypted, "locked.key")


# -- the .sig image -------------------------------------------------------------------------


def test_signature_image_layout_matches_cosign() -> None:
    layer = new_layer(COSIGN_PAYLOAD, COSIGN_SIGNATURE)
    config = signature_config([layer])
    # go-containerregistry's empty image with the layer appended, marshalled by Go.
    assert config == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":'
        b'"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["'
        + sha256_digest(COSIGN_PAYLOAD).encode()
        + b'"]},"config":{}}'
    )
    manifest = json.loads(signature_manifest([layer], config))
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"] == {
        "mediaType": OCI_CONFIG,
        "size": len(config),
        "digest": sha256_digest(config),
    }
    assert manifest["layers"] == [
        {
            "mediaType": SIMPLE_SIGNING,
            "size": len(COSIGN_PAYLOAD),
            "digest": sha256_digest(COSIGN_PAYLOAD),
            "annotations": {SIGNATURE_ANNOTATION: COSIGN_SIGNATURE},
        }
    ]


def test_signature_layers_round_trip_and_keep_other_annotations() -> None:
    first = new_layer(COSIGN_PAYLOAD, COSIGN_SIGNATURE)
    bundle = {"dev.sigstore.cosign/bundle": '{"SignedEntryTimestamp":"x"}'}
    second = new_layer(b"{}", "c2ln")
    second = type(second)(second.digest, second.size, second.signature, bundle)
    raw = signature_manifest([first, second], signature_config([first, second]))
    assert signature_layers(raw) == [first, second]
    config = json.loads(signature_config([first, second]))
    assert config["rootfs"]["diff_ids"] == [first.digest, second.digest]
    assert len(config["history"]) == 2


def test_layers_that_are_not_signatures_are_skipped() -> None:
    signed = new_layer(COSIGN_PAYLOAD, COSIGN_SIGNATURE).descriptor()
    other = {"mediaType": "application/vnd.example+json", "size": 2, "digest": signed["digest"]}
    unsigned = {**signed, "annotations": {}}
    raw = json.dumps({"schemaVersion": 2, "layers": [other, unsigned, signed]}).encode()
    assert [layer.signature for layer in signature_layers(raw)] == [COSIGN_SIGNATURE]


@pytest.mark.parametrize(
    "raw",
    [
        b"nope",
        b'{"schemaVersion": 2}',
        json.dumps({"layers": [{**new_layer(b"x", "c2ln").descriptor(), "digest": "md5:1"}]}),
        json.dumps({"layers": [{**new_layer(b"x", "c2ln").descriptor(), "size": -1}]}),
        json.dumps({"layers": [new_layer(b"x", "c2ln").descriptor()] * 1001}),
    ],
)
def test_malformed_signature_images_are_refused(raw: bytes | str) -> None:
    with pytest.raises(SignatureImageError):
        signature_layers(raw.encode() if isinstance(raw, str) else raw)
    with pytest.raises(SignatureImageError):
        signature_manifest([], b"{}")
