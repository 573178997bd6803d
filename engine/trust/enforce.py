"""Applying the policy: an image a rule covers passes only with a valid signature.

Refusals are ``Forbidden`` (HTTP 403), as dockerd answers a request its authorization
plugins deny, and name the image, the rule's pattern and the reason, so the user sees
which policy stopped what, and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.errors import EngineError, Forbidden
from engine.trust.fetch import SignatureSource
from engine.trust.policy import TrustPolicy, TrustRule
from engine.trust.signature_image import SignatureImageError
from engine.trust.verify import Report, verify_signatures

NO_DIGEST = (
    "it has no repository digest to check signatures against (it was loaded, imported, built "
    "or tagged here); pull it from {name}"
)


def refusal(image: str, rule: TrustRule, reason: str) -> Forbidden:
    return Forbidden(
        f'image "{image}" refused by trust policy "{rule.pattern}": signature required, but '
        f"{reason}"
    )


async def require_signed(
    policy: TrustPolicy,
    rule: TrustRule,
    name: str,
    digest: str,
    image: str,
    verify: Callable[[], Awaitable[Report]],
) -> None:
    """Pass when ``name@digest`` verified under ``rule`` (now by ``verify``, or earlier);
    otherwise raise the refusal for ``image``. Failing to read the signatures refuses too."""
    if policy.is_verified(rule, name, digest):
        return
    try:
        report = await verify()
    except SignatureImageError as exc:
        reason = f"its signature image is invalid: {exc}"
    except EngineError as exc:
        reason = f"its signatures cannot be read from the registry: {exc.message}"
    else:
        if report.verified:
            policy.remember(rule, name, digest)
            return
        reason = report.reason()
    raise refusal(image, rule, reason)


async def verify_pull(
    policy: TrustPolicy, source: SignatureSource, domain: str, path: str, digest: str, image: str
) -> None:
    """Before a pull stores anything: refuse ``image`` (``domain/path`` resolved to
    ``digest`` by ``source``) unless its rule, if any, is satisfied."""
    name = f"{domain}/{path}"
    rule = policy.rule_for(name)
    if rule is None or not rule.require_signature:
        return
    keys = rule.keys
    await require_signed(
        policy, rule, name, digest, image, lambda: verify_signatures(source, path, digest, keys)
    )
