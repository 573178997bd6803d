"""Signed images: a trust policy per repository and signatures in cosign's format.

Signatures are cosign's "simple signing" payloads, signed with ECDSA P-256 over SHA-256 and
stored in the image's repository as an OCI image under the tag ``sha256-<hex>.sig``
(sigstore/cosign ``specs/SIGNATURE_SPEC.md``). That is what ``cosign sign --key`` writes by
default up to cosign 2, and with ``--new-bundle-format=false`` from cosign 3 on (whose
``verify`` still falls back to these tags). The engine checks them on pull and before a
container is created from an image a policy covers; ``doca trust`` writes and reads them.

Everything here is pure or talks to a registry through the small ``SignatureSource``
protocol, so the package sits below the registry client and the configuration can hold a
parsed policy.
"""
