"""Basic authentication with an htpasswd file."""

from __future__ import annotations

from tests.unit.registry_server.conftest import PASSWORD, USER, Registry, basic


async def test_unauthenticated_requests_get_a_basic_challenge(auth_registry: Registry) -> None:
    for method, path in (
        ("GET", "/v2/"),
        ("GET", "/v2/_catalog"),
        ("POST", "/v2/a/blobs/uploads/"),
    ):
        reply = await auth_registry.request(method, path)
        assert reply.status == 401, path
        assert reply.headers["WWW-Authenticate"] == 'Basic realm="Test Realm"'
        assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert reply.error_code == "UNAUTHORIZED"
        assert reply.json()["errors"][0]["message"] == "authentication required"


async def test_wrong_credentials_are_refused(auth_registry: Registry) -> None:
    for user, password in ((USER, "wrong"), ("mallory", PASSWORD), ("", "")):
        reply = await auth_registry.request("GET", "/v2/", authorization=basic(user, password))
        assert reply.status == 401
    garbled = await auth_registry.request("GET", "/v2/", headers={"Authorization": "Basic !!"})
    assert garbled.status == 401
    bearer = await auth_registry.request("GET", "/v2/", headers={"Authorization": "Bearer x"})
    assert bearer.status == 401


async def test_valid_credentials_push_and_pull(auth_registry: Registry) -> None:
    auth_registry.authorization = basic(USER, PASSWORD)
    assert (await auth_registry.request("GET", "/v2/")).status == 200
    _, body = await auth_registry.push_image("app", "v1")
    assert (await auth_registry.request("GET", "/v2/app/manifests/v1")).body == body
    # Verified credentials are cached; a wrong password must still fail afterwards.
    wrong = await auth_registry.request(
        "GET", "/v2/app/manifests/v1", authorization=basic(USER, PASSWORD + "x")
    )
    assert wrong.status == 401


async def test_hostile_name_is_challenged_before_it_is_parsed(auth_registry: Registry) -> None:
    reply = await auth_registry.raw("GET /v2/../../etc/tags/list HTTP/1.1")
    assert reply.status == 401
