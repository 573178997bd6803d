"""The trust policy at container create: an image a rule covers runs only when signed.

Whatever way the image reached the store (pulled before the policy existed, pushed from
here, loaded, tagged), it is checked by its repository digest: the digest a pull or push
recorded for the same repository. An image without one cannot be verified and is refused.
Digests this engine verified on pull pass at once; others are checked against the registry,
anonymously, since a create request carries no registry credentials.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from engine.errors import Forbidden, InvalidParameter, NotFound
from engine.images.reference import Reference, parse_reference
from engine.trust.enforce import NO_DIGEST, refusal, require_signed

if TYPE_CHECKING:
    from engine.config import EngineConfig
    from engine.images.service import ImageService
    from engine.trust.policy import TrustRule
    from engine.trust.verify import Report


async def verify_image_trust(config: EngineConfig, images: ImageService, body: Any) -> None:
    """Raise Forbidden when the image of a create request needs a signature it lacks.

    A request that names no known image passes through: create answers it as usual.
    """
    policy = config.trust
    name = body.get("Image") if policy.rules and isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        return
    try:
        record, matched = images.lookup(name)
    except (NotFound, InvalidParameter):
        return
    refs = [parse_reference(ref, default_tag=None) for ref in images.store.refs_of(record.id)]
    # By ID, every name the image carries counts: any of them could be what it claims to be.
    named = [parse_reference(matched, default_tag=None)] if matched else refs
    for ref in named:
        rule = policy.rule_for(ref.name)
        if rule is None or not rule.require_signature:
            continue
        same_repo = [r.digest for r in refs if r.digest and r.name == ref.name]
        await _require_any(config, rule, ref, [ref.digest] if ref.digest else same_repo)


async def _require_any(
    config: EngineConfig, rule: TrustRule, ref: Reference, digests: list[str]
) -> None:
    if not digests:
        raise refusal(ref.familiar(), rule, NO_DIGEST.format(name=ref.name))
    refused: Forbidden | None = None
    for digest in digests:
        try:
            await require_signed(
                config.trust,
                rule,
                ref.name,
                digest,
                ref.familiar(),
                partial(_from_registry, config, rule, ref, digest),
            )
            return
        except Forbidden as exc:
            refused = exc
    assert refused is not None
    raise refused


async def _from_registry(
    config: EngineConfig, rule: TrustRule, ref: Reference, digest: str
) -> Report:
    # The registry client is imported when a policy first needs it, not with the API.
    from engine.images.registry_access import find_candidates, with_fallback
    from engine.registry.auth import Credentials
    from engine.trust.verify import verify_signatures

    found = await find_candidates(ref.domain, config, pull=False)
    client, report = await with_fallback(
        found, Credentials(), lambda c: verify_signatures(c, ref.path, digest, rule.keys)
    )
    await client.close()
    return report
