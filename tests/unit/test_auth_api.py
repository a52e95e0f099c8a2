"""/v1/auth, /v1/users and /v1/keys through the app, with the real authenticator and service."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.unit.api_fakes import FakeEventStore
from tests.unit.auth_fakes import GOOD_PASSWORD, JWT_KEY, AuthRig, make_rig


@pytest.fixture
def rig() -> AuthRig:
    r = make_rig(login_max_failures=3, lockout_s=30)
    r.add_user("root", "admin")
    r.add_user("ann", "operator", cameras=("cam-a",))
    r.add_user("ivy", "integrator")
    r.add_user("aud", "auditor", sites=("north",))
    return r


@pytest.fixture
def client(rig: AuthRig, tmp_path: Path) -> TestClient:
    app = create_app(
        FakeEventStore(),
        tmp_path,
        authenticator=rig.authenticator,
        auth_service=rig.service,
        audit=rig.audit,
    )
    return TestClient(app)


def sign_in(client: TestClient, username: str, password: str = GOOD_PASSWORD) -> dict[str, Any]:
    r = client.post("/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_password_flow_answers_the_contract_and_me_shows_role_scope_permissions(client: TestClient) -> None:
    body = sign_in(client, "ann")
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "username", "role"}
    assert (body["token_type"], body["expires_in"], body["username"], body["role"]) == (
        "bearer",
        900,
        "ann",
        "operator",
    )
    me = client.get("/v1/auth/me", headers=auth(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "username": "ann",
        "role": "operator",
        "kind": "user",
        "scope": {"sites": [], "cameras": ["cam-a"]},
        "permissions": sorted(
            [
                "events:read",
                "alerts:read",
                "alerts:act",
                "snapshots:read",
                "cameras:read",
                "sensors:read",
                "faces:read",
                "faces:search",
                "hotlists:read",
            ]
        ),
    }


@pytest.mark.parametrize(
    ("username", "password"), [("ann", "wrong password!"), ("nobody", GOOD_PASSWORD), ("ann", "x")]
)
def test_unknown_user_and_wrong_password_are_the_same_401(
    client: TestClient, username: str, password: str
) -> None:
    r = client.post("/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 401
    assert r.json() == {"detail": "wrong username or password"}
    assert r.headers["www-authenticate"] == "Bearer"


def test_lockout_answers_429_with_retry_after_then_lets_in_after_lockout_s(
    client: TestClient, rig: AuthRig
) -> None:
    for _ in range(3):
        assert (
            client.post("/v1/auth/token", data={"username": "ann", "password": "nope nope nope"}).status_code
            == 401
        )
    r = client.post("/v1/auth/token", data={"username": "ann", "password": GOOD_PASSWORD})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"
    assert "try again in 30 s" in r.json()["detail"]
    rig.clock.advance(30)
    assert sign_in(client, "ann")["username"] == "ann"
    failed = [r for r in rig.audit.records if r.action == "auth.login" and r.outcome == "failed"]
    assert [f.detail for f in failed] == ["wrong username or password"] * 3 + ["locked out"]
    assert {f.actor for f in failed} == {"ann"} and all(f.source == "testclient" for f in failed)


def _forged(**changes: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "root",
        "role": "admin",
        "kind": "user",
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        "iss": "anfang",
        "typ": "access",
    }
    claims.update(changes)
    return jwt.encode(claims, b"attacker-key-" + b"z" * 60, algorithm="HS256")


@pytest.mark.parametrize(
    ("credential", "cause"),
    [
        (None, "not signed in"),
        ("", "must be: Bearer"),
        (_forged(), "signature invalid"),
        (jwt.encode({"sub": "root", "exp": 1, "iat": 0}, JWT_KEY, algorithm="HS256"), "lacks"),
        ("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJyb290In0.", "algorithm"),
        ("ak_0123456789abcdef_" + "A" * 43, "unknown API key"),
        ("ak_short", "malformed API key"),
        ("rt_0123456789abcdef_" + "A" * 43, "malformed access token"),
    ],
)
def test_missing_forged_and_wrong_credentials_are_401(
    client: TestClient, credential: str | None, cause: str
) -> None:
    headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
    r = client.get("/v1/auth/me", headers=headers)
    assert r.status_code == 401
    assert cause in r.json()["detail"]
    if credential:
        assert credential not in r.text


def test_an_expired_token_is_401(client: TestClient, rig: AuthRig) -> None:
    token = sign_in(client, "ann")["access_token"]
    rig.clock.advance(rig.config.access_token_ttl_s)
    r = client.get("/v1/auth/me", headers=auth(token))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_refresh_rotates_and_logout_revokes(client: TestClient) -> None:
    first = sign_in(client, "ann")
    r = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"] and second["username"] == "ann"
    again = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401 and first["refresh_token"] not in again.text
    third = sign_in(client, "ann")
    assert client.post("/v1/auth/logout", json={"refresh_token": third["refresh_token"]}).status_code == 204
    assert client.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 401
    assert client.post("/v1/auth/logout", json={"refresh_token": "garbage"}).status_code == 204
    assert client.post("/v1/auth/refresh", json={}).status_code == 422


def test_a_disabled_users_token_is_refused_within_user_cache_s(client: TestClient, rig: AuthRig) -> None:
    token = sign_in(client, "ann")["access_token"]
    assert client.get("/v1/auth/me", headers=auth(token)).status_code == 200
    user = rig.store.get_user("ann")
    assert user is not None
    rig.store.put_user(user.model_copy(update={"disabled": True, "version": user.version + 1}))  # elsewhere
    rig.clock.advance(rig.config.user_cache_s)
    r = client.get("/v1/auth/me", headers=auth(token))
    assert r.status_code == 401 and r.json()["detail"] == "user disabled"


@pytest.mark.parametrize("username", ["ann", "ivy", "aud"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/users", None),
        ("POST", "/v1/users", {"username": "eve", "role": "admin", "password": GOOD_PASSWORD}),
        ("GET", "/v1/users/root", None),
        ("PATCH", "/v1/users/root", {"disabled": True}),
        ("GET", "/v1/keys", None),
        ("POST", "/v1/keys", {"name": "k", "role": "admin"}),
        ("DELETE", "/v1/keys/0123456789abcdef", None),
    ],
)
def test_user_and_key_routes_are_admin_only(
    client: TestClient, rig: AuthRig, username: str, method: str, path: str, body: object
) -> None:
    token = sign_in(client, username)["access_token"]
    r = client.request(method, path, json=body, headers=auth(token))
    assert r.status_code == 403, r.text
    assert rig.audit.records[-1].action == "access.denied" and rig.audit.records[-1].actor == username
    assert client.request(method, path, json=body).status_code == 401


def test_admin_manages_users_without_ever_seeing_a_hash(client: TestClient, rig: AuthRig) -> None:
    admin = auth(sign_in(client, "root")["access_token"])
    created = client.post(
        "/v1/users",
        json={
            "username": "eve",
            "role": "auditor",
            "password": "eve's long password",
            "scope": {"sites": ["s1"]},
        },
        headers=admin,
    )
    assert created.status_code == 201
    assert created.json() == {
        "username": "eve",
        "role": "auditor",
        "scope": {"sites": ["s1"], "cameras": []},
        "disabled": False,
        "created_ts_ms": created.json()["created_ts_ms"],
        "updated_ts_ms": created.json()["created_ts_ms"],
        "version": 1,
    }
    assert (
        client.post(
            "/v1/users", json={"username": "eve", "role": "admin", "password": "x" * 12}, headers=admin
        ).status_code
        == 409
    )
    short = client.post(
        "/v1/users", json={"username": "zed", "role": "admin", "password": "tiny"}, headers=admin
    )
    assert short.status_code == 400 and "at least 10" in short.json()["detail"] and "tiny" not in short.text
    listed = client.get("/v1/users", headers=admin).json()["items"]
    assert [u["username"] for u in listed] == ["ann", "aud", "eve", "ivy", "root"]
    patched = client.patch("/v1/users/eve", json={"role": "operator", "disabled": True}, headers=admin)
    assert patched.status_code == 200 and patched.json()["role"] == "operator" and patched.json()["disabled"]
    assert client.get("/v1/users/eve", headers=admin).json()["version"] == 2
    assert client.get("/v1/users/nobody", headers=admin).status_code == 404
    assert client.get("/v1/users/bad%20name", headers=admin).status_code == 422
    assert client.patch("/v1/users/root", json={"disabled": True}, headers=admin).status_code == 409
    assert client.patch("/v1/users/eve", json={"shoe_size": 44}, headers=admin).status_code == 422
    everything = "".join(client.get(p, headers=admin).text for p in ("/v1/users", "/v1/users/eve"))
    assert "argon2" not in everything and "password" not in everything
    actions = [(r.action, r.target, r.outcome) for r in rig.audit.records if r.action.startswith("user.")]
    assert ("user.create", "user:eve", "ok") in actions and ("user.update", "user:root", "failed") in actions


def test_a_patched_password_works_and_is_never_echoed(client: TestClient) -> None:
    admin = auth(sign_in(client, "root")["access_token"])
    r = client.patch("/v1/users/ann", json={"password": "brand new secret 42"}, headers=admin)
    assert r.status_code == 200 and "brand new secret 42" not in r.text
    assert sign_in(client, "ann", "brand new secret 42")["username"] == "ann"


def test_api_key_is_shown_once_works_and_revoked_is_401(client: TestClient, rig: AuthRig) -> None:
    admin = auth(sign_in(client, "root")["access_token"])
    r = client.post(
        "/v1/keys", json={"name": "vms", "role": "operator", "scope": {"cameras": ["cam-a"]}}, headers=admin
    )
    assert r.status_code == 201
    body = r.json()
    key = body.pop("api_key")
    assert key.startswith(f"ak_{body['key_id']}_")
    assert body == {
        "key_id": body["key_id"],
        "name": "vms",
        "role": "operator",
        "scope": {"sites": [], "cameras": ["cam-a"]},
        "created_by": "root",
        "created_ts_ms": body["created_ts_ms"],
        "revoked": False,
    }
    listed = client.get("/v1/keys", headers=admin)
    assert key not in listed.text and key.split("_", 2)[2] not in listed.text
    assert [k["key_id"] for k in listed.json()["items"]] == [body["key_id"]]
    me = client.get("/v1/auth/me", headers=auth(key)).json()
    assert (me["username"], me["kind"], me["role"]) == (body["key_id"], "api_key", "operator")
    assert client.delete(f"/v1/keys/{body['key_id']}", headers=admin).status_code == 204
    r = client.get("/v1/auth/me", headers=auth(key))
    assert r.status_code == 401 and r.json()["detail"] == "API key revoked"
    assert client.delete("/v1/keys/ffffffffffffffff", headers=admin).status_code == 404
    assert client.get("/v1/keys", headers=admin).json()["items"][0]["revoked"] is True
    stored = rig.store.get_api_key(body["key_id"])
    assert stored is not None and stored.secret_sha256 not in listed.text


def test_no_secret_in_any_response_body_or_log_record(
    client: TestClient, rig: AuthRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    bad = client.post("/v1/auth/token", data={"username": "root", "password": "hunter2-wrong-pw"})
    bodies.append(bad.text)
    tokens = sign_in(client, "root")
    admin = auth(tokens["access_token"])
    for method, path, body in [
        ("POST", "/v1/users", {"username": "eve", "role": "auditor", "password": "eve secret password"}),
        ("PATCH", "/v1/users/eve", {"password": "eve second password"}),
        ("POST", "/v1/users", {"username": "zed", "role": "admin", "password": "short"}),
        ("POST", "/v1/keys", {"name": "vms", "role": "operator"}),
        ("GET", "/v1/users", None),
        ("GET", "/v1/keys", None),
        ("POST", "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
        ("POST", "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
    ]:
        bodies.append(client.request(method, path, json=body, headers=admin).text)
    key = next(b for b in bodies if '"api_key"' in b).split('"api_key":"')[1].split('"')[0]
    bodies = [b for b in bodies if '"api_key"' not in b and '"access_token"' not in b]
    hashes = [u.password_hash for u in rig.store.users] + [k.secret_sha256 for k in rig.store.keys]
    secrets = ["hunter2-wrong-pw", GOOD_PASSWORD, "eve secret password", "eve second password", "short"]
    secrets += [tokens["access_token"], tokens["refresh_token"], key, *hashes]
    text = caplog.text + "".join(bodies) + "".join(r.model_dump_json() for r in rig.audit.records)
    assert "auth.login failed by root" in caplog.text  # the logs were captured
    for secret in secrets:
        assert secret not in text, secret[:12]


def test_without_an_auth_service_the_sign_in_routes_answer_503(tmp_path: Path) -> None:
    client = TestClient(create_app(FakeEventStore(), tmp_path))
    r = client.post("/v1/auth/token", data={"username": "a", "password": "b"})
    assert r.status_code == 503


def test_the_token_route_is_an_oauth2_password_form_in_the_openapi(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in body
    for path in ("/v1/users", "/v1/users/{username}", "/v1/keys", "/v1/keys/{key_id}", "/v1/auth/me"):
        assert path in doc["paths"]
    assert "password_hash" not in str(doc) and "secret_sha256" not in str(doc)
