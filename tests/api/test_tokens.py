from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from ohm.api import tokens
from ohm.core import clock
from ohm.core.models import ApiToken, AuditEvent
from tests.api.conftest import client_with_token, grant_api_use
from tests.factories import AT, SYSTEM

URL = "/api/search?q=lopez"


def create_with_command(username: str, name: str = "IVR") -> str:
    out, err = StringIO(), StringIO()
    call_command("api_token", "create", "--user", username, "--name", name, stdout=out, stderr=err)
    return out.getvalue().strip()


class TestApiTokenCommand:
    def test_create_prints_a_token_that_is_stored_only_as_its_hash(self, csr):
        token = create_with_command("casey")

        row = ApiToken.objects.get()
        assert token.startswith("ohm_")
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:8]
        assert (row.name, row.user) == ("IVR", csr)
        assert token not in str(list(ApiToken.objects.values()))

    def test_create_records_an_audit_event(self, csr):
        token = create_with_command("casey")

        event = AuditEvent.objects.get(event="api.token.created")
        assert event.after["user"] == "casey"
        assert token not in str(event.after)

    def test_the_printed_token_works(self, csr):
        grant_api_use(csr)
        token = create_with_command("casey")

        response = client_with_token(token).get(URL)

        assert response.status_code == 200

    def test_revoke_makes_the_token_fail_with_401(self, csr):
        grant_api_use(csr)
        token = create_with_command("casey")
        row = ApiToken.objects.get()

        call_command("api_token", "revoke", str(row.pk), stdout=StringIO())
        response = client_with_token(token).get(URL)

        assert response.status_code == 401
        assert AuditEvent.objects.filter(event="api.token.revoked").count() == 1

    def test_revoking_twice_is_refused(self, csr):
        create_with_command("casey")
        row_id = str(ApiToken.objects.get().pk)
        call_command("api_token", "revoke", row_id, stdout=StringIO())

        with pytest.raises(CommandError, match="already revoked"):
            call_command("api_token", "revoke", row_id, stdout=StringIO())

    def test_list_shows_prefixes_but_never_tokens(self, csr):
        token = create_with_command("casey", "Field app")
        out = StringIO()

        call_command("api_token", "list", stdout=out)

        assert "Field app" in out.getvalue()
        assert token[:8] in out.getvalue()
        assert token not in out.getvalue()

    def test_list_hides_revoked_tokens_unless_asked(self, csr):
        create_with_command("casey", "Old IVR")
        call_command("api_token", "revoke", str(ApiToken.objects.get().pk), stdout=StringIO())
        short, full = StringIO(), StringIO()

        call_command("api_token", "list", stdout=short)
        call_command("api_token", "list", "--all", stdout=full)

        assert "Old IVR" not in short.getvalue()
        assert "Old IVR" in full.getvalue()

    def test_create_refuses_an_unknown_user(self, db):
        with pytest.raises(CommandError, match="no user named"):
            create_with_command("nobody")

        assert not ApiToken.objects.exists()

    def test_revoke_refuses_an_unknown_id(self, db):
        with pytest.raises(CommandError, match="No API token 999"):
            call_command("api_token", "revoke", "999", stdout=StringIO())


class TestTokenAuthentication:
    def test_an_unknown_token_is_401(self, db):
        response = client_with_token("ohm_" + "x" * 43).get(URL)

        assert response.status_code == 401
        assert "Bearer" in response.json()["detail"]
        assert response["WWW-Authenticate"] == "Bearer"

    def test_a_missing_header_is_401(self, db):
        response = Client().get(URL)

        assert response.status_code == 401

    def test_another_scheme_is_401(self, db):
        response = Client(HTTP_AUTHORIZATION="Basic Y2FzZXk6cGFzcw==").get(URL)

        assert response.status_code == 401

    def test_a_user_without_use_api_is_403(self, api_client):
        client = api_client("csr", use_api=False)

        response = client.get(URL)

        assert response.status_code == 403
        assert "core.use_api" in response.json()["detail"]

    def test_an_inactive_user_is_403(self, csr):
        grant_api_use(csr)
        _, token = tokens.create_token(user=csr, name="IVR", actor=SYSTEM, at=AT)
        csr.is_active = False
        csr.save()

        response = client_with_token(token).get(URL)

        assert response.status_code == 403
        assert "inactive" in response.json()["detail"]

    def test_last_used_is_written_at_most_once_a_minute(self, csr):
        grant_api_use(csr)
        row, token = tokens.create_token(user=csr, name="IVR", actor=SYSTEM, at=AT)
        client = client_with_token(token)

        with clock.frozen_at(AT):
            client.get(URL)
        with clock.frozen_at(AT + timedelta(seconds=59)):
            client.get(URL)
        row.refresh_from_db()
        first = row.last_used_at
        with clock.frozen_at(AT + timedelta(seconds=61)):
            client.get(URL)
        row.refresh_from_db()

        assert first == AT
        assert row.last_used_at == AT + timedelta(seconds=61)
