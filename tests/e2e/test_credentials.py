"""Sessions and API keys through the ingress: refresh rotation and reuse, logout, API keys with
scopes, immediate revocation, and login throttling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.client import PixtractClient, photo_jpeg

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
# The e2e stack runs with the default limits (PIXTRACT_AUTH_LOGIN_THROTTLE__*).
MAX_FAILURES_PER_ACCOUNT = 10


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    c.sign_up()
    yield c
    c.close()


def _refresh(client: PixtractClient, refresh_token: str) -> httpx.Response:
    return client.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == PROBLEM_JSON
    if slug is not None:
        assert response.json()["type"].endswith("/" + slug), response.json()


# ----- refresh tokens ------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_token_stops_working(client: PixtractClient) -> None:
    first = str(client.refresh_token)
    rotated = _refresh(client, first)
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_token"] != first
    assert client.http.get("/api/v1/auth/me", headers=_bearer(pair["access_token"])).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client: PixtractClient) -> None:
    first = client.log_in()["refresh_token"]
    other_session = client.log_in()  # another login of the same user: a family of its own
    second = _refresh(client, first).json()["refresh_token"]
    newest = _refresh(client, second).json()["refresh_token"]

    # A thief replays the first token: refused, and the family is over...
    _assert_problem(_refresh(client, first), 401, "invalid-refresh-token")
    # ...so the newest token, held by the legitimate client, stops working too, as does the middle one.
    _assert_problem(_refresh(client, newest), 401, "invalid-refresh-token")
    _assert_problem(_refresh(client, second), 401, "invalid-refresh-token")
    # Another session of the same user is not part of that family.
    assert _refresh(client, other_session["refresh_token"]).status_code == 200


def test_logout_revokes_the_refresh_token(client: PixtractClient) -> None:
    token = str(client.refresh_token)
    logout = client.http.post("/api/v1/auth/logout", json={"refresh_token": token})
    assert logout.status_code == 204
    _assert_problem(_refresh(client, token), 401, "invalid-refresh-token")
    # Logging out again, or with a token that never existed, is not an error.
    assert client.http.post("/api/v1/auth/logout", json={"refresh_token": token}).status_code == 204
    assert client.http.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"}).status_code == 204


def test_logout_after_rotation_ends_the_session(client: PixtractClient) -> None:
    first = str(client.refresh_token)
    newest = _refresh(client, first).json()["refresh_token"]
    assert client.http.post("/api/v1/auth/logout", json={"refresh_token": newest}).status_code == 204
    _assert_problem(_refresh(client, newest), 401)
    _assert_problem(_refresh(client, first), 401)


# ----- API keys ------------------------------------------------------------------------------


def _create_key(client: PixtractClient, name: str, scopes: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if scopes is not None:
        body["scopes"] = scopes
    created = client.http.post("/api/v1/auth/api-keys", json=body, headers=client.auth)
    assert created.status_code == 201, created.text
    key = dict(created.json())
    assert set(key) == {"id", "name", "key", "created_at"}
    assert key["key"].startswith("pxk_")
    return key


def _listed(client: PixtractClient) -> dict[str, dict[str, Any]]:
    listing = client.http.get("/api/v1/auth/api-keys", headers=client.auth)
    assert listing.status_code == 200
    return {item["id"]: item for item in listing.json()["items"]}


def test_an_api_key_works_like_a_bearer_token_and_records_its_use(client: PixtractClient) -> None:
    key = _create_key(client, "nightly backup")
    listed = _listed(client)[key["id"]]
    assert listed == {"id": key["id"], "name": "nightly backup", "created_at": key["created_at"], "last_used_at": None}
    assert "key" not in listed  # shown once, at creation

    as_key = _bearer(key["key"])
    uploaded = client.http.post(
        "/api/v1/images", files=[("files", ("by-key.jpg", photo_jpeg(21), "image/jpeg"))], headers=as_key
    )
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["images"][0]["id"]
    assert client.http.get(f"/api/v1/images/{image_id}", headers=as_key).status_code == 200
    assert client.http.get("/api/v1/images", headers=as_key).json()["items"][0]["id"] == image_id
    assert client.http.get("/api/v1/search", params={"q": "x"}, headers=as_key).status_code == 200
    assert client.http.get("/api/v1/search/suggest", params={"q": "x"}, headers=as_key).status_code == 200
    assert client.http.get("/api/v1/categories", headers=as_key).status_code == 200
    # The login token sees what the key uploaded: same user.
    assert client.image(image_id).status_code == 200

    assert _listed(client)[key["id"]]["last_used_at"] is not None


def test_an_api_key_cannot_manage_keys_or_delete_the_account(client: PixtractClient) -> None:
    as_key = _bearer(_create_key(client, "script")["key"])
    assert client.http.get("/api/v1/auth/me", headers=as_key).status_code == 200
    _assert_problem(client.http.get("/api/v1/auth/api-keys", headers=as_key), 403, "login-token-required")
    _assert_problem(
        client.http.post("/api/v1/auth/api-keys", json={"name": "more"}, headers=as_key), 403, "login-token-required"
    )
    _assert_problem(client.http.delete("/api/v1/auth/me", headers=as_key), 403, "login-token-required")
    assert client.http.get("/api/v1/auth/me", headers=client.auth).status_code == 200


def test_a_read_only_api_key_reads_but_cannot_write(client: PixtractClient) -> None:
    uploaded = client.upload(("mine.jpg", photo_jpeg(22), "image/jpeg"))
    image_id = uploaded.json()["images"][0]["id"]
    as_key = _bearer(_create_key(client, "viewer", ["images:read"])["key"])

    assert client.http.get("/api/v1/images", headers=as_key).status_code == 200
    assert client.http.get(f"/api/v1/images/{image_id}", headers=as_key).status_code == 200
    assert client.http.get(f"/api/v1/images/{image_id}/thumbnail", headers=as_key).status_code == 200
    assert client.http.get("/api/v1/search", params={"q": "x"}, headers=as_key).status_code == 200
    assert client.http.get("/api/v1/categories", headers=as_key).status_code == 200

    upload = client.http.post(
        "/api/v1/images", files=[("files", ("nope.jpg", photo_jpeg(23), "image/jpeg"))], headers=as_key
    )
    _assert_problem(upload, 403, "insufficient-scope")
    assert "images:write" in upload.json()["detail"]
    _assert_problem(client.http.delete(f"/api/v1/images/{image_id}", headers=as_key), 403, "insufficient-scope")
    renamed = client.http.patch("/api/v1/categories/animals", json={"name": "Pets"}, headers=as_key)
    _assert_problem(renamed, 403, "insufficient-scope")
    # Nothing was written.
    assert [item["id"] for item in client.http.get("/api/v1/images", headers=client.auth).json()["items"]] == [image_id]


def test_a_write_only_api_key_cannot_read(client: PixtractClient) -> None:
    as_key = _bearer(_create_key(client, "drop box", ["images:write"])["key"])
    uploaded = client.http.post(
        "/api/v1/images", files=[("files", ("drop.jpg", photo_jpeg(24), "image/jpeg"))], headers=as_key
    )
    assert uploaded.status_code == 201, uploaded.text
    _assert_problem(client.http.get("/api/v1/images", headers=as_key), 403, "insufficient-scope")
    _assert_problem(client.http.get("/api/v1/search", params={"q": "x"}, headers=as_key), 403, "insufficient-scope")


def test_revoking_an_api_key_takes_effect_on_the_very_next_request(client: PixtractClient) -> None:
    key = _create_key(client, "leaked")
    kept = _create_key(client, "kept")
    as_key = _bearer(key["key"])
    assert client.http.get("/api/v1/images", headers=as_key).status_code == 200

    assert client.http.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=client.auth).status_code == 204
    for method, path in [("GET", "/api/v1/images"), ("GET", "/api/v1/search"), ("GET", "/api/v1/categories")]:
        _assert_problem(client.http.request(method, path, headers=as_key), 401, "unauthorized")
    assert set(_listed(client)) == {kept["id"]}
    _assert_problem(client.http.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=client.auth), 404)
    assert client.http.get("/api/v1/images", headers=_bearer(kept["key"])).status_code == 200


def test_an_unknown_scope_is_refused(client: PixtractClient) -> None:
    created = client.http.post(
        "/api/v1/auth/api-keys", json={"name": "root", "scopes": ["images:admin"]}, headers=client.auth
    )
    _assert_problem(created, 422)


# ----- login throttling ----------------------------------------------------------------------


def test_too_many_wrong_passwords_lock_that_account_only(client: PixtractClient, stack: Any) -> None:
    # Only this test's fresh account is locked; other tests' users log in as before.
    wrong = {"email": client.email, "password": "not the password at all"}
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        answer = client.http.post("/api/v1/auth/login", json=wrong)
        _assert_problem(answer, 401, "invalid-credentials")
    locked = client.http.post("/api/v1/auth/login", json=wrong)
    _assert_problem(locked, 429, "too-many-login-attempts")
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= 900
    # Even the right password waits now.
    right = client.http.post("/api/v1/auth/login", json={"email": client.email, "password": client.password})
    _assert_problem(right, 429)
    # The same answer for an unknown email is a 401: throttling is per account.
    unknown = client.http.post("/api/v1/auth/login", json={"email": "nobody-e2e@example.org", "password": "x" * 12})
    _assert_problem(unknown, 401, "invalid-credentials")
    other = PixtractClient(stack.base_url)
    try:
        other.sign_up()  # logs in from the same address
    finally:
        other.close()
    # Tokens issued before the lock keep working.
    assert client.http.get("/api/v1/auth/me", headers=client.auth).status_code == 200
