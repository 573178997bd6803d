"""engine.runtime.capabilities: --cap-add/--cap-drop/--privileged as dockerd applies them."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidParameter
from engine.runtime.capabilities import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    capabilities_from_mask,
    capability_mask,
    container_capabilities,
)
from engine.runtime.oci_spec import SpecInput, build_spec, parse_capabilities


def spec(**kwargs: Any) -> dict[str, Any]:
    return build_spec(SpecInput(rootfs="/rootfs", args=["sh"], env=[], **kwargs))


def test_default_mask() -> None:
    assert capability_mask(DEFAULT_CAPABILITIES) == 0xA80425FB
    assert capabilities_from_mask(0xA80425FB) == sorted(
        DEFAULT_CAPABILITIES, key=ALL_CAPABILITIES.index
    )


def test_cap_add_and_drop() -> None:
    caps = spec(cap_add=("net_admin", "CAP_SYS_PTRACE"), cap_drop=("MKNOD", "cap_chown"))
    bounding = caps["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_SYS_PTRACE" in bounding
    assert "CAP_MKNOD" not in bounding and "CAP_CHOWN" not in bounding
    only = spec(cap_drop=("ALL",), cap_add=("kill",))["process"]["capabilities"]
    assert only["effective"] == ["CAP_KILL"]
    everything = spec(cap_add=("all",), cap_drop=("NET_RAW",))["process"]["capabilities"]
    assert len(everything["bounding"]) == len(ALL_CAPABILITIES) - 1
    nothing = spec(cap_drop=("ALL",))["process"]["capabilities"]
    assert nothing["bounding"] == []


def test_unknown_capability() -> None:
    with pytest.raises(InvalidParameter, match=r'^unknown capability: "CAP_FOO"$'):
        spec(cap_add=("foo",))
    with pytest.raises(InvalidParameter, match="not supported by your kernel"):
        spec(cap_add=("CAP_CHECKPOINT_RESTORE",), last_cap=39)
    assert parse_capabilities(["all", "Net_Admin"]) == ["ALL", "CAP_NET_ADMIN"]


def test_privileged_gets_what_the_engine_holds() -> None:
    assert container_capabilities(privileged=True) == list(ALL_CAPABILITIES)
    held = capabilities_from_mask(0x1FFFEFFFFFF)  # an engine without CAP_SYS_RESOURCE
    limited = container_capabilities(("x",), privileged=True, held=held)
    assert "CAP_SYS_RESOURCE" not in limited and len(limited) == 40
    with pytest.raises(InvalidParameter, match="not available in the current environment"):
        container_capabilities(("SYS_RESOURCE",), held=held)
    assert container_capabilities(("CHOWN",)) == list(DEFAULT_CAPABILITIES)
