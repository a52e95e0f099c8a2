"""AuthService: sign-in, lockout, refresh rotation, sign-out, users and keys, and what gets audited."""

from __future__ import annotations

import logging

import pytest

from api.auth.errors import (
    InvalidCredentialsError,
    InvalidInputError,
    InvalidRefreshTokenError,
    KeyNotFoundError,
    LastAdminError,
    LockedOutError,
    PasswordPolicyError,
    SignInUnavailableError,
    UserExistsError,
    UserNotFoundError,
)
from api.auth.passwords import Passwords
from api.auth.service import AuthService
from api.principal import AuthenticationError
from events.auth import CameraScope, Role
from tests.unit.auth_fakes import CLI, GOOD_PASSWORD, AuthRig, make_rig

SOURCE = "10.1.2.3"


@pytest.fixture
def rig() -> AuthRig:
    r = make_rig(login_max_failures=3, lockout_s=60)
    r.add_user("root", "admin")
    r.add_user("ann", "operator", cameras=("cam-a",))
    return r


def test_login_returns_tokens_that_authenticate_with_the_stored_role_and_scope(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    assert (pair.username, pair.role, pair.expires_in_s) == ("ann", Role.OPERATOR, 900)
    principal = rig.authenticator.authenticate(pair.access_token)
    assert (principal.name, principal.role, principal.kind) == ("ann", Role.OPERATOR, "user")
    assert principal.scope == CameraScope(cameras=("cam-a",))
    assert pair.refresh_token.startswith("rt_")
    assert GOOD_PASSWORD not in repr(pair) and pair.access_token not in repr(pair)
    last = rig.audit.records[-1]
    assert (last.action, last.actor, last.role, last.source, last.outcome) == (
        "auth.login",
        "ann",
        "operator",
        SOURCE,
        "ok",
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ann", "wrong password!"),
        ("nobody", GOOD_PASSWORD),
        ("ANN", GOOD_PASSWORD),
        ("x' OR '1'='1", GOOD_PASSWORD),
        ("a" * 500, GOOD_PASSWORD),
        ("ann", "p" * 5000),
        ("", ""),
    ],
)
def test_wrong_credentials_all_answer_the_same_and_are_audited(
    rig: AuthRig, username: str, password: str
) -> None:
    with pytest.raises(InvalidCredentialsError) as info:
        rig.service.login(username, password, source=SOURCE)
    assert str(info.value) == "wrong username or password"
    last = rig.audit.records[-1]
    assert (last.action, last.outcome, last.source) == ("auth.login", "failed", SOURCE)
    assert last.actor == username[:128]
    assert password not in last.model_dump_json() or password == ""


def test_a_disabled_user_cannot_sign_in(rig: AuthRig) -> None:
    rig.service.update_user("ann", disabled=True, actor=CLI)
    with pytest.raises(InvalidCredentialsError, match="wrong username or password"):
        rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    assert rig.audit.records[-1].detail == "user disabled"


def test_lockout_after_n_failures_even_for_the_right_password_then_released(rig: AuthRig) -> None:
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            rig.service.login("ann", "wrong password!", source=SOURCE)
    with pytest.raises(LockedOutError) as info:
        rig.service.login("ann", GOOD_PASSWORD, source="10.9.9.9")
    assert info.value.retry_after_s == 60
    assert rig.audit.records[-1].detail == "locked out"
    rig.clock.advance(60)
    assert rig.service.login("ann", GOOD_PASSWORD, source=SOURCE).username == "ann"


def test_refresh_rotates_and_the_old_token_is_refused(rig: AuthRig) -> None:
    first = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    second = rig.service.refresh(first.refresh_token, source=SOURCE)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert rig.authenticator.authenticate(second.access_token).name == "ann"
    with pytest.raises(InvalidRefreshTokenError, match="revoked or used already"):
        rig.service.refresh(first.refresh_token, source=SOURCE)
    # reuse of a rotated token ends every session of the user: the newest one too
    with pytest.raises(InvalidRefreshTokenError):
        rig.service.refresh(second.refresh_token, source=SOURCE)
    assert [r.detail for r in rig.audit.records if r.action == "auth.refresh"][-2:] == [
        "revoked token reused",
        "revoked token reused",
    ]


def test_logout_revokes_the_refresh_token(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    rig.service.logout(pair.refresh_token, source=SOURCE)
    rig.service.logout(pair.refresh_token, source=SOURCE)  # idempotent
    rig.service.logout("rt_garbage", source=SOURCE)
    with pytest.raises(InvalidRefreshTokenError):
        rig.service.refresh(pair.refresh_token, source=SOURCE)
    assert [r.action for r in rig.audit.records].count("auth.logout") == 1


@pytest.mark.parametrize(
    ("token", "cause"),
    [("nonsense", "malformed"), ("rt_0123456789abcdef_" + "x" * 43, "unknown"), ("", "malformed")],
)
def test_bad_refresh_tokens(rig: AuthRig, token: str, cause: str) -> None:
    with pytest.raises(InvalidRefreshTokenError, match=cause):
        rig.service.refresh(token, source=SOURCE)


def test_refresh_token_expires(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    rig.clock.advance(rig.config.refresh_token_ttl_s)
    with pytest.raises(InvalidRefreshTokenError, match="expired"):
        rig.service.refresh(pair.refresh_token, source=SOURCE)


def test_a_forged_secret_for_a_real_token_id_is_refused(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    prefix, token_id, _secret = pair.refresh_token.split("_", 2)
    with pytest.raises(InvalidRefreshTokenError, match="unknown"):
        rig.service.refresh(f"{prefix}_{token_id}_{'A' * 43}", source=SOURCE)
    assert rig.service.refresh(pair.refresh_token, source=SOURCE).username == "ann"


def test_disabling_ends_sessions_and_access_tokens_within_the_cache_time(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    assert rig.authenticator.authenticate(pair.access_token).name == "ann"
    rig.store.put_user(rig.store.get_user("ann").model_copy(update={"disabled": True, "version": 9}))  # type: ignore[union-attr]
    assert rig.authenticator.authenticate(pair.access_token).name == "ann"  # another instance: cached
    rig.clock.advance(rig.config.user_cache_s)
    with pytest.raises(AuthenticationError, match="user disabled"):
        rig.authenticator.authenticate(pair.access_token)


def test_changes_through_the_service_take_effect_at_once_here(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    assert rig.authenticator.authenticate(pair.access_token).role == Role.OPERATOR
    rig.service.update_user("ann", role=Role.AUDITOR, scope=CameraScope(sites=("north",)), actor=CLI)
    principal = rig.authenticator.authenticate(pair.access_token)  # same token, new role and scope
    assert (principal.role, principal.scope) == (Role.AUDITOR, CameraScope(sites=("north",)))
    rig.service.update_user("ann", disabled=True, actor=CLI)
    with pytest.raises(AuthenticationError, match="user disabled"):
        rig.authenticator.authenticate(pair.access_token)
    with pytest.raises(InvalidRefreshTokenError):
        rig.service.refresh(pair.refresh_token, source=SOURCE)


def test_a_new_password_ends_sessions_and_the_old_password(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    rig.service.update_user("ann", password="another long password", actor=CLI)
    with pytest.raises(InvalidRefreshTokenError):
        rig.service.refresh(pair.refresh_token, source=SOURCE)
    with pytest.raises(InvalidCredentialsError):
        rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    assert rig.service.login("ann", "another long password", source=SOURCE).username == "ann"
    change = next(r for r in rig.audit.records if r.action == "user.update")
    assert change.detail == "password changed" and "another" not in change.model_dump_json()


def test_an_outdated_hash_is_upgraded_at_sign_in(rig: AuthRig) -> None:
    stronger = AuthService(
        rig.store,
        rig.config.model_copy(update={"argon2_time_cost": 2}),
        passwords=Passwords(rig.config.model_copy(update={"argon2_time_cost": 2})),
        tokens=rig.tokens,
        audit=rig.audit,
    )
    before = rig.store.get_user("ann")
    stronger.login("ann", GOOD_PASSWORD, source=SOURCE)
    after = rig.store.get_user("ann")
    assert before is not None and after is not None
    assert after.version == before.version + 1 and "t=2" in after.password_hash


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.create_user("ann", Role.ADMIN, GOOD_PASSWORD, actor=CLI), UserExistsError),
        (lambda s: s.create_user("new", Role.ADMIN, "short", actor=CLI), PasswordPolicyError),
        (lambda s: s.create_user("new", Role.ADMIN, " " * 20, actor=CLI), PasswordPolicyError),
        (lambda s: s.create_user("new", Role.ADMIN, "x" * 2000, actor=CLI), PasswordPolicyError),
        (lambda s: s.create_user("bad name!", Role.ADMIN, GOOD_PASSWORD, actor=CLI), InvalidInputError),
        (lambda s: s.update_user("nobody", disabled=True, actor=CLI), UserNotFoundError),
        (lambda s: s.update_user("root", disabled=True, actor=CLI), LastAdminError),
        (lambda s: s.update_user("root", role=Role.OPERATOR, actor=CLI), LastAdminError),
        (lambda s: s.revoke_key("0123456789abcdef", actor=CLI), KeyNotFoundError),
        (lambda s: s.create_key("", Role.OPERATOR, actor=CLI), InvalidInputError),
    ],
)
def test_refusals_are_typed_and_audited_as_failed(rig: AuthRig, call: object, error: type[Exception]) -> None:
    count = len(rig.audit.records)
    with pytest.raises(error):
        call(rig.service)  # type: ignore[operator]
    assert len(rig.audit.records) == count + 1
    assert rig.audit.records[-1].outcome == "failed" and rig.audit.records[-1].actor == "cli:test"


def test_the_last_admin_may_go_once_there_is_another(rig: AuthRig) -> None:
    rig.add_user("root2", "admin")
    assert rig.service.update_user("root", disabled=True, actor=CLI).disabled
    with pytest.raises(LastAdminError):
        rig.service.update_user("root2", role=Role.AUDITOR, actor=CLI)


def test_user_changes_are_new_versions_with_a_readable_audit_detail(rig: AuthRig) -> None:
    updated = rig.service.update_user("ann", role=Role.AUDITOR, disabled=True, actor=CLI)
    assert updated.version == 2 and rig.store.get_user("ann") == updated
    assert rig.audit.records[-1].detail == "role operator -> auditor; disabled"
    assert rig.service.update_user("ann", role=Role.AUDITOR, actor=CLI).version == 2  # nothing to change
    created = next(r for r in rig.audit.records if r.action == "user.create" and r.target == "user:ann")
    assert created.detail == "role operator; scope cameras cam-a"


def test_api_keys_shown_once_stored_hashed_revocable(rig: AuthRig) -> None:
    record, key = rig.service.create_key("vms", Role.INTEGRATOR, CameraScope(sites=("north",)), actor=CLI)
    assert key.startswith(f"ak_{record.key_id}_") and key.split("_", 2)[2] not in record.model_dump_json()
    principal = rig.authenticator.authenticate(key)
    assert (principal.name, principal.kind, principal.role, principal.actor) == (
        record.key_id,
        "api_key",
        Role.INTEGRATOR,
        f"key:{record.key_id}",
    )
    assert principal.scope == CameraScope(sites=("north",))
    with pytest.raises(AuthenticationError, match="unknown API key"):
        rig.authenticator.authenticate(key[:-4] + "AAAA")
    with pytest.raises(AuthenticationError, match="malformed API key"):
        rig.authenticator.authenticate("ak_nonsense")
    rig.service.revoke_key(record.key_id, actor=CLI)
    with pytest.raises(AuthenticationError, match="API key revoked"):
        rig.authenticator.authenticate(key)
    assert [k.revoked for k in rig.service.list_keys()] == [True]
    assert [r.action for r in rig.audit.records][-2:] == ["key.create", "key.revoke"]


def test_an_api_key_of_another_instance_is_revoked_within_the_cache_time(rig: AuthRig) -> None:
    record, key = rig.service.create_key("vms", Role.OPERATOR, actor=CLI)
    rig.authenticator.authenticate(key)
    rig.store.put_api_key(record.model_copy(update={"revoked": True, "version": 2}))
    rig.authenticator.authenticate(key)  # cached
    rig.clock.advance(rig.config.user_cache_s)
    with pytest.raises(AuthenticationError, match="revoked"):
        rig.authenticator.authenticate(key)


def test_the_cache_spares_the_store(rig: AuthRig) -> None:
    pair = rig.service.login("ann", GOOD_PASSWORD, source=SOURCE)
    reads = rig.store.reads
    for _ in range(50):
        rig.authenticator.authenticate(pair.access_token)
    assert rig.store.reads - reads == 1


def test_a_token_of_a_deleted_user_is_refused() -> None:
    rig = make_rig()
    token = rig.tokens.issue("ghost", Role.ADMIN)
    with pytest.raises(AuthenticationError, match="no longer exists"):
        rig.authenticator.authenticate(token)


def test_without_a_jwt_key_administration_works_and_sign_in_does_not() -> None:
    rig = make_rig()
    service = AuthService(rig.store, rig.config, passwords=Passwords(rig.config), tokens=None, audit=None)
    service.create_user("ann", Role.ADMIN, GOOD_PASSWORD, actor=CLI)
    with pytest.raises(SignInUnavailableError):
        service.login("ann", GOOD_PASSWORD, source=SOURCE)


def test_no_secret_reaches_a_log_record_or_the_audit_trail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig = make_rig(login_max_failures=2)
    rig.add_user("root", "admin")
    secrets_seen = [GOOD_PASSWORD, "wrong password one", "a brand new password"]
    for attempt in ("wrong password one", "wrong password one"):
        with pytest.raises(InvalidCredentialsError):
            rig.service.login("root", attempt, source=SOURCE)
    rig.clock.advance(rig.config.lockout_s)
    pair = rig.service.login("root", GOOD_PASSWORD, source=SOURCE)
    pair2 = rig.service.refresh(pair.refresh_token, source=SOURCE)
    _record, key = rig.service.create_key("vms", Role.OPERATOR, actor=CLI)
    rig.service.update_user("root", password="a brand new password", actor=CLI)
    rig.service.logout(pair2.refresh_token, source=SOURCE)
    user = rig.store.get_user("root")
    assert user is not None
    secrets_seen += [pair.access_token, pair.refresh_token, pair2.refresh_token, key, user.password_hash]
    secrets_seen += [key.split("_", 2)[2], pair.refresh_token.split("_", 2)[2]]
    text = caplog.text + "".join(r.model_dump_json() for r in rig.audit.records) + repr(user)
    assert caplog.records, "the failures should have been logged"
    for secret in secrets_seen:
        assert secret not in text


def test_every_failed_sign_in_checks_a_hash_so_unknown_users_take_as_long(
    rig: AuthRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str | None] = []
    verify = rig.service.passwords.verify

    def spy(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(rig.service.passwords, "verify", spy)
    for name in ("nobody", "bad name!", "ann"):
        with pytest.raises(InvalidCredentialsError):
            rig.service.login(name, "wrong password!", source=SOURCE)
    assert len(checked) == 3 and checked[:2] == [None, None] and checked[2] is not None
