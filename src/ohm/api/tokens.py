"""API tokens: made once, shown once, stored only as their SHA-256.

A token is ``ohm_`` plus 43 url-safe characters (256 random bits). Only its hash and its first
characters (to tell tokens apart in listings) are kept, so a database leak gives no usable
token, and a lost token is replaced, never recovered.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction

from ohm.core import audit
from ohm.core.models import ApiToken

TOKEN_PREFIX = "ohm_"
SHOWN_PREFIX_LENGTH = 8  # "ohm_" and four random characters: enough to tell tokens apart
#: ``last_used_at`` is rewritten at most this often, so a busy integration costs no write
#: per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAlreadyRevoked(Exception):
    """The token was revoked before."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_token(*, user, name: str, actor, at: datetime) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token, which is never available again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        name=name,
        user=user,
        prefix=token[:SHOWN_PREFIX_LENGTH],
        token_sha256=hash_token(token),
        created_at=at,
    )
    audit.record(
        "api.token.created",
        subject=row,
        actor=actor,
        at=at,
        after={"name": name, "user": user.username, "prefix": row.prefix},
    )
    return row, token


@transaction.atomic
def revoke_token(*, token: ApiToken, actor, at: datetime, reason: str = "") -> ApiToken:
    """Stop a token working from ``at`` on.

    :raises TokenAlreadyRevoked: if it was revoked before.
    """
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise TokenAlreadyRevoked(token.pk)
    token.revoked_at = at
    token.save(update_fields=["revoked_at"])
    audit.record(
        "api.token.revoked",
        subject=token,
        actor=actor,
        at=at,
        before={"revoked_at": None},
        after={"revoked_at": at},
        reason=reason,
    )
    return token


def find_active_token(token: str) -> ApiToken | None:
    """The unrevoked token row (with its user) for a presented token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(token_sha256=hash_token(token), revoked_at__isnull=True)
        .first()
    )


def note_use(token: ApiToken, *, at: datetime) -> None:
    """Record that the token was used, unless that was already recorded within a minute."""
    if token.last_used_at is not None and at - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=at)
    token.last_used_at = at
