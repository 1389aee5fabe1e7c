"""Shared fixtures: staff of each role, a fixed moment, and record factories."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model

from ohm.core.permissions import ensure_roles, role_group


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Staff are created in most tests; the production hasher would spend seconds on them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def at() -> datetime:
    """A fixed moment: 10:00 local (Pacific) on Tuesday March 3, 2026."""
    return datetime(2026, 3, 3, 18, 0, tzinfo=UTC)


@pytest.fixture
def today() -> date:
    return date(2026, 3, 3)


@pytest.fixture
def make_staff(db):
    ensure_roles()
    created = {}

    def make(role: str = "csr", username: str | None = None):
        name = username or f"{role}{len(created) + 1}"
        user = get_user_model().objects.create_user(
            username=name, password="correct-horse-battery", first_name=role.title()
        )
        user.groups.add(role_group(role))
        created[name] = user
        return user

    return make


@pytest.fixture
def csr(make_staff):
    return make_staff("csr", "casey")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("supervisor", "sam")
