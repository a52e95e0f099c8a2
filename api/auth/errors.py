"""What the sign-in service refuses, each mapped to one HTTP status by api/routes/auth.py."""

from __future__ import annotations

from api.principal import AuthenticationError


class AuthServiceError(Exception):
    """Base of the refusals below (the message is safe to show: never a password, token or key)."""


class InvalidCredentialsError(AuthenticationError):
    """Unknown user, wrong password or disabled user: one message for all (-> 401)."""


class InvalidRefreshTokenError(AuthenticationError):
    """A refresh token that is malformed, unknown, expired, used already or revoked (-> 401)."""


class LockedOutError(AuthServiceError):
    """Too many failed sign-ins for this username or address (-> 429 with Retry-After)."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, int(retry_after_s + 0.999))
        super().__init__(f"too many failed sign-ins: try again in {self.retry_after_s} s")


class PasswordPolicyError(AuthServiceError):
    """A new password that is too short or too long (-> 400)."""


class UserExistsError(AuthServiceError):
    """-> 409"""


class UserNotFoundError(AuthServiceError):
    """-> 404"""


class KeyNotFoundError(AuthServiceError):
    """-> 404"""


class LastAdminError(AuthServiceError):
    """The change would leave no enabled admin (-> 409)."""


class SignInUnavailableError(AuthServiceError):
    """This process cannot issue tokens (no JWT key): only user/key administration works (-> 503)."""


class InvalidInputError(AuthServiceError):
    """A username, name, role or scope the records refuse (-> 400)."""
