"""Bearer-token authentication and permission checks for the API."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from ohm.api import tokens
from ohm.api.errors import Forbidden
from ohm.core import clock

USE_API = "core.use_api"


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ohm_…``.

    An unknown or revoked token is a 401 (returning None); a token whose user is inactive
    or lacks ``core.use_api`` is a 403: the caller is known but not allowed.
    """

    def authenticate(self, request: HttpRequest, token: str):
        row = tokens.find_active_token(token.strip())
        if row is None:
            return None
        user = row.user
        if not user.is_active:
            raise Forbidden("The user this token belongs to is inactive.")
        if not user.has_perm(USE_API):
            raise Forbidden(f"User {user.username} may not use the API (needs {USE_API}).")
        tokens.note_use(row, at=clock.now())
        request.user = user
        return user


def require_perm(request: HttpRequest, perm: str, what: str) -> None:
    """403 unless the token's user has ``perm``; ``what`` says what was refused ("view accounts")."""
    if not request.user.has_perm(perm):
        raise Forbidden(f"You may not {what} (needs permission {perm}).")
