"""A certificate authority, an engine (server) certificate and a client certificate for an
engine's tcp listener with ``--tlsverify``: pure, PEM bytes in memory; `doca engine certs`
writes them.

ECDSA P-256 keys, as Go's TLS (the docker CLI, dockerd) and Python's ssl both take them and
they are quick to make. The server certificate names the hosts clients dial (the docker CLI
checks the name against the certificate's SANs, never its CN); each leaf carries the one
extended key usage its side needs, which both Go and OpenSSL enforce.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Always in the server certificate: the engine is dialled locally as often as not.
LOCAL_NAMES = ("127.0.0.1", "localhost")
DEFAULT_DAYS = 365
# Certificates are valid from a little before now, so that a client whose clock is behind
# the machine that made them still accepts them.
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


@dataclass(frozen=True)
class Certificates:
    ca: Pem
    server: Pem
    client: Pem


def subject_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """The server's SANs: each host as an IP address when it parses as one, else a DNS name;
    then 127.0.0.1 and localhost; without repeats, in that order."""
    names: list[x509.GeneralName] = []
    for host in [*hosts, *LOCAL_NAMES]:
        text = host.strip().strip("[]")  # an IPv6 address as written in a URL
        if not text:
            continue
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(text))
        except ValueError:
            name = x509.DNSName(text.lower())
        if name not in names:
            names.append(name)
    return names


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


def _usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=sign_certificates,
        crl_sign=sign_certificates, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _builder(
    subject: str, key: ec.EllipticCurvePrivateKey, now: datetime.datetime, days: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _leaf(
    subject: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    now: datetime.datetime,
    days: int,
    names: list[x509.GeneralName] | None = None,
) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, key, now, days)
        .issuer_name(ca.subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    hosts: Sequence[str] = (), days: int = DEFAULT_DAYS, now: datetime.datetime | None = None
) -> Certificates:
    """A new CA, and a server and a client certificate it signed, valid for ``days`` days."""
    if days < 1:
        raise ValueError(f"invalid number of days: {days}")
    now = now or datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _builder("Doca engine CA", ca_key, now, days)
        .issuer_name(_name("Doca engine CA"))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certificates=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    names = subject_names(hosts)
    server_name = hosts[0] if hosts else "localhost"
    return Certificates(
        ca=Pem(ca.public_bytes(serialization.Encoding.PEM), _key_pem(ca_key)),
        server=_leaf(server_name, ca, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, now, days, names),
        client=_leaf("client", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, now, days),
    )
