"""The sign-in service as a request dependency (503 when this process has none)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.auth.service import AuthService
from api.deps import AuthUnavailableError, ContextDep


def get_auth_service(ctx: ContextDep) -> AuthService:
    if ctx.auth_service is None:
        raise AuthUnavailableError("sign-in is not configured in this process")
    return ctx.auth_service


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
