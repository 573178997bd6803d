"""``PullProgress`` on recorded pull streams, the reference helpers, and ``pull_image`` against
a small HTTP engine on loopback that records what it was sent."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from desktop_app.state.pulls import (
    PullFailed,
    PullProgress,
    pull_auth,
    pull_image,
    registry_of,
    run_pull,
    split_reference,
)
from doca.client import EngineClient, InvalidRequest

L1, L2 = "a3ed95caeb02", "9c075fe2c773"
DIGEST = "sha256:" + "d" * 64

# A fresh pull of a two-layer image, as doca-engine (and dockerd) stream it.
FRESH: list[dict[str, Any]] = [
    {"status": "Pulling from x/busybox", "id": "1"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": L1},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": L2},
    {"status": "Downloading", "progressDetail": {"current": 500, "total": 1000},
     "progress": "[=>  ]", "id": L1},
    {"status": "Waiting", "progressDetail": {}, "id": L2},
    {"status": "Downloading", "progressDetail": {"current": 1000, "total": 1000}, "id": L1},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": L1},
    {"status": "Download complete", "progressDetail": {}, "id": L1},
    {"status": "Downloading", "progressDetail": {"current": 2000, "total": 4000}, "id": L2},
    {"status": "Downloading", "progressDetail": {"current": 4000, "total": 4000}, "id": L2},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": L2},
    {"status": "Download complete", "progressDetail": {}, "id": L2},
    {"status": "Extracting", "progressDetail": {"current": 1000, "total": 1000}, "id": L1},
    {"status": "Pull complete", "progressDetail": {}, "id": L1},
    {"status": "Extracting", "progressDetail": {"current": 1000, "total": 4000}, "id": L2},
    {"status": "Extracting", "progressDetail": {"current": 4000, "total": 4000}, "id": L2},
    {"status": "Pull complete", "progressDetail": {}, "id": L2},
    {"status": f"Digest: {DIGEST}"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5000/x/busybox:1"},
]  # fmt: skip


def fold(messages: list[dict[str, Any]], reference: str = "img") -> PullProgress:
    progress = PullProgress(reference)
    for message in messages:
        progress.update(message)
    return progress


def test_a_fresh_pull_folds_into_layer_rows_and_the_outcome() -> None:
    seen: list[float] = []
    progress = PullProgress("127.0.0.1:5000/x/busybox:1")
    for message in FRESH:
        progress.update(message)
        seen.append(progress.fraction)
    assert seen == sorted(seen), "the overall fraction never goes back"
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert list(progress.layers) == [L1, L2]  # "Pulling from" is a header, not a layer
    assert progress.header == "Pulling from x/busybox"
    assert [layer.status for layer in progress.layers.values()] == ["Pull complete"] * 2
    assert progress.digest == DIGEST
    assert progress.summary() == "Downloaded newer image for 127.0.0.1:5000/x/busybox:1"
    assert progress.finished and progress.error == ""
    progress.raise_for_error()


def test_bytes_and_fraction_mid_download() -> None:
    progress = fold(FRESH[:4])
    row = progress.layers[L1]
    assert (row.status, row.current, row.total) == ("Downloading", 500, 1000)
    assert row.text() == f"{L1}: Downloading 500B / 1kB"
    assert progress.layers[L2].text() == f"{L2}: Pulling fs layer"
    assert progress.fraction == pytest.approx((0.25 + 0) / 2)
    assert not progress.finished
    assert progress.summary() == "Pulling from x/busybox (2 layers)"
    # Downloaded, half extracted:
    progress = fold(FRESH[:15])
    assert progress.layers[L2].current == 1000
    assert progress.fraction == pytest.approx((1.0 + 0.625) / 2)


def test_layers_that_already_exist_count_as_done() -> None:
    progress = fold(
        [
            {"status": "Pulling from library/app", "id": "2"},
            {"status": "Already exists", "progressDetail": {}, "id": L1},
            {"status": "Pulling fs layer", "progressDetail": {}, "id": L2},
        ]
    )
    assert progress.layers[L1].fraction == 1.0
    assert progress.fraction == 0.5
    up_to_date = fold(
        [
            {"status": "Pulling from library/app", "id": "2"},
            {"status": "Already exists", "progressDetail": {}, "id": L1},
            {"status": "Already exists", "progressDetail": {}, "id": L2},
            {"status": f"Digest: {DIGEST}"},
            {"status": "Status: Image is up to date for app:2"},
        ]
    )
    assert up_to_date.fraction == 1.0
    assert up_to_date.summary() == "Image is up to date for app:2"
    assert [layer.text() for layer in up_to_date.layers.values()] == [
        f"{L1}: Already exists",
        f"{L2}: Already exists",
    ]


def test_an_error_in_the_stream_is_the_outcome() -> None:
    failed = "failed to register layer: digest mismatch"
    progress = fold(
        [
            *FRESH[:6],
            {"errorDetail": {"message": failed}, "error": failed},
        ]
    )
    assert progress.error == failed and progress.finished
    assert progress.summary() == f"Error: {failed}"
    assert progress.fraction < 1.0
    with pytest.raises(PullFailed) as caught:
        progress.raise_for_error()
    assert caught.value.message == failed
    only_detail = fold([{"errorDetail": {"message": "unauthorized"}}])
    assert only_detail.error == "unauthorized"


@pytest.mark.parametrize(
    ("reference", "name", "tag", "registry"),
    [
        ("busybox", "busybox", "latest", "docker.io"),
        ("library/busybox:1.36", "library/busybox", "1.36", "docker.io"),
        ("127.0.0.1:5000/x/busybox", "127.0.0.1:5000/x/busybox", "latest", "127.0.0.1:5000"),
        ("127.0.0.1:5000/x/busybox:1", "127.0.0.1:5000/x/busybox", "1", "127.0.0.1:5000"),
        ("localhost/app:2", "localhost/app", "2", "localhost"),
        ("ghcr.io/o/app@" + DIGEST, "ghcr.io/o/app", DIGEST, "ghcr.io"),
        (" quay.io/o/app:v1 ", "quay.io/o/app", "v1", "quay.io"),
    ],
)
def test_references_split_as_the_docker_cli_sends_them(
    reference: str, name: str, tag: str, registry: str
) -> None:
    assert split_reference(reference) == (name, tag)
    assert registry_of(reference) == registry


def test_pull_auth_comes_from_the_docker_config(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    secret = base64.b64encode(b"alice:pw").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"reg.test:5000": {"auth": secret}}})
    )
    header = pull_auth("reg.test:5000/team/app:1")
    assert header is not None
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "alice",
        "password": "pw",
        "serveraddress": "reg.test:5000",
    }
    assert pull_auth("other.test/app") is None
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(PullFailed, match=r"cannot get the credentials for reg\.test:5000"):
        pull_auth("reg.test:5000/team/app:1")


# -- the streaming call, against an HTTP engine on loopback ---------------------------------


@pytest.fixture
async def engine() -> AsyncIterator[tuple[EngineClient, list[web.Request], list[Any]]]:
    """An engine that answers POST /images/create with ``script`` (messages to stream, or an
    HTTP error as ``(status, message)``) and keeps the requests it got."""
    requests: list[web.Request] = []
    script: list[Any] = []

    async def create(request: web.Request) -> web.StreamResponse:
        requests.append(request)
        if script and isinstance(script[0], tuple):
            status, message = script[0]
            return web.json_response({"message": message}, status=status)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for message in script:
            await response.write(json.dumps(message).encode() + b"\r\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1.47/images/create", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = EngineClient(f"tcp://127.0.0.1:{port}")
    try:
        yield client, requests, script
    finally:
        await client.close()
        await runner.cleanup()


async def test_pull_image_sends_what_the_docker_cli_sends(
    engine: tuple[EngineClient, list[web.Request], list[Any]],
) -> None:
    client, requests, script = engine
    script.extend(FRESH)
    got = [m async for m in pull_image(client, "127.0.0.1:5000/x/busybox", "linux/arm64", "e30=")]
    assert got == FRESH
    query = requests[0].query
    assert dict(query) == {
        "fromImage": "127.0.0.1:5000/x/busybox",
        "tag": "latest",
        "platform": "linux/arm64",
    }
    assert requests[0].headers["X-Registry-Auth"] == "e30="
    [m async for m in pull_image(client, "busybox@" + DIGEST, None, None)]
    assert dict(requests[1].query) == {"fromImage": "busybox", "tag": DIGEST}
    assert "X-Registry-Auth" not in requests[1].headers


async def test_run_pull_raises_the_engines_errors(
    engine: tuple[EngineClient, list[web.Request], list[Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    # An auths entry keeps the CLI's lookup from choosing a desktop keychain helper.
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client, _, script = engine
    script.extend(
        [*FRESH[:3], {"error": "manifest unknown", "errorDetail": {"message": "manifest unknown"}}]
    )
    progress = PullProgress("r.test/app:1")
    ticks: list[float] = []
    with pytest.raises(PullFailed, match="manifest unknown"):
        await run_pull(client, "r.test/app:1", None, progress, lambda: ticks.append(1))
    assert len(ticks) == 4 and progress.error == "manifest unknown"
    assert list(progress.layers) == [L1, L2]

    script[:] = [(400, "invalid reference format: repository name must be lowercase")]
    with pytest.raises(InvalidRequest, match="must be lowercase"):
        await run_pull(client, "Bad/Name", None, PullProgress("Bad/Name"))

    script[:] = FRESH[:5]  # the stream ends without a Status line
    with pytest.raises(PullFailed, match="without a result"):
        await run_pull(client, "r.test/app:1", None, PullProgress("r.test/app:1"))
