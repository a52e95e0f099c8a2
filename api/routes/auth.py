"""Sign-in: the OAuth2 password flow (`POST /v1/auth/token`), refresh with rotation, sign-out, and who
am I. These are the sign-in routes: /token, /refresh and /logout take no bearer credential; /me takes
any signed-in principal (every role may ask who it is).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import errors
from api.auth.deps import AuthServiceDep
from api.auth.schemas import MeOut, RefreshIn, TokenOut
from api.auth.service import TokenPair
from api.deps import CurrentUser, client_address
from api.route_helpers import ErrorHandler, plain_error
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_UNAUTHORIZED = {"model": ErrorOut, "description": "wrong credentials, or a bad, expired or revoked token"}
_LOCKED = {"model": ErrorOut, "description": "too many failed sign-ins: wait `Retry-After` seconds"}
_UNAVAILABLE = {"model": ErrorOut, "description": "sign-in is not configured in this process"}


def _token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in_s,
        refresh_token=pair.refresh_token,
        username=pair.username,
        role=pair.role,
    )


@router.post(
    "/token",
    response_model=TokenOut,
    responses={401: _UNAUTHORIZED, 429: _LOCKED, 503: _UNAVAILABLE},
)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], service: AuthServiceDep, request: Request
) -> TokenOut:
    """OAuth2 password flow: form fields `username` and `password` -> an access token (JWT) and a
    refresh token. Unknown user and wrong password answer the same 401."""
    return _token_out(service.login(form.username, form.password, source=client_address(request)))


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses={401: _UNAUTHORIZED, 503: _UNAVAILABLE},
)
def refresh(body: RefreshIn, service: AuthServiceDep, request: Request) -> TokenOut:
    """New tokens for a refresh token, which stops working (rotation): use the new one next time."""
    token = body.refresh_token.get_secret_value()
    return _token_out(service.refresh(token, source=client_address(request)))


@router.post("/logout", status_code=204, responses={503: _UNAVAILABLE})
def sign_out(body: RefreshIn, service: AuthServiceDep, request: Request) -> Response:
    """Revokes the refresh token (its access token lapses within its short lifetime)."""
    service.logout(body.refresh_token.get_secret_value(), source=client_address(request))
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses={401: _UNAUTHORIZED, 503: _UNAVAILABLE})
def me(user: CurrentUser) -> MeOut:
    """The signed-in user or API key: role, camera scope and permissions."""
    return MeOut.of(user)


async def _locked_out(request: Request, exc: Exception) -> JSONResponse:
    retry_after_s = exc.retry_after_s if isinstance(exc, errors.LockedOutError) else 60
    return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(retry_after_s)})


#: The service's refusals and their answers; create_app registers them. (InvalidCredentialsError and
#: InvalidRefreshTokenError are AuthenticationErrors: the app answers 401 with WWW-Authenticate.)
ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    errors.LockedOutError: _locked_out,
    errors.PasswordPolicyError: plain_error(400),
    errors.InvalidInputError: plain_error(400),
    errors.UserExistsError: plain_error(409),
    errors.LastAdminError: plain_error(409),
    errors.UserNotFoundError: plain_error(404),
    errors.KeyNotFoundError: plain_error(404),
    errors.SignInUnavailableError: plain_error(503),
}
