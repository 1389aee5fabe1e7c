"""API fixtures: staff who may use the API, and clients that send their token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from ohm.api import tokens
from tests.factories import AT, SYSTEM


def grant_api_use(user) -> None:
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="core", codename="use_api")
    )


def client_with_token(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def api_client(make_staff):
    """``api_client(role)``: a client whose token belongs to a new user of that role."""

    def make(role: str = "csr", *, use_api: bool = True) -> Client:
        user = make_staff(role)
        if use_api:
            grant_api_use(user)
        _, token = tokens.create_token(user=user, name=f"{role} test", actor=SYSTEM, at=AT)
        return client_with_token(token)

    return make


@pytest.fixture
def csr_api(api_client):
    return api_client("csr")
