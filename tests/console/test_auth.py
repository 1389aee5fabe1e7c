import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ohm.core.models import AuditEvent

LOGIN = "/console/login/"
PASSWORD = "correct-horse-battery"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.django_db
class TestSignIn:
    def test_signs_in_with_the_right_password(self, client, csr):
        response = client.post(LOGIN, {"username": "casey", "password": PASSWORD})

        assert response.status_code == 302
        assert response.url == reverse("console:home")
        assert client.get(reverse("console:home")).status_code == 200

    def test_refuses_a_wrong_password(self, client, csr):
        response = client.post(LOGIN, {"username": "casey", "password": "wrong-password"})

        assert response.status_code == 200
        assert b"enter a correct username and password" in response.content
        assert "_auth_user_id" not in client.session

    def test_locks_the_username_after_five_failures(self, client, csr):
        for _ in range(5):
            client.post(LOGIN, {"username": "casey", "password": "wrong-password"})

        response = client.post(LOGIN, {"username": "casey", "password": PASSWORD})

        assert response.status_code == 429
        assert b"Account locked" in response.content
        assert b"30 minutes" in response.content
        assert b"supervisor" in response.content
        assert "_auth_user_id" not in client.session

    def test_console_pages_send_strangers_to_sign_in(self, client):
        response = client.get("/console/accounts/1000000008/")

        assert response.status_code == 302
        assert response.url.startswith(LOGIN)

    def test_signs_out_only_by_post(self, client, csr):
        client.force_login(csr)

        assert client.get("/console/logout/").status_code == 405
        response = client.post("/console/logout/")

        assert response.status_code == 302
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
class TestTwoStepSignIn:
    @pytest.fixture
    def device(self, csr):
        return TOTPDevice.objects.create(user=csr, name="phone", confirmed=True)

    def test_asks_for_the_code_after_the_password(self, client, device):
        response = client.post(LOGIN, {"username": "casey", "password": PASSWORD})

        assert response.status_code == 302
        assert response.url.startswith(reverse("console:login_verify"))
        assert client.get(reverse("console:home")).url.startswith(reverse("console:login_verify"))

    def test_lets_the_user_in_with_the_current_code(self, client, device):
        client.post(LOGIN, {"username": "casey", "password": PASSWORD})

        response = client.post(
            reverse("console:login_verify"), {"code": _code(device), "next": "/console/search/"}
        )

        assert response.status_code == 302
        assert response.url == "/console/search/"
        assert client.get(reverse("console:home")).status_code == 200

    def test_refuses_a_wrong_code(self, client, device):
        client.post(LOGIN, {"username": "casey", "password": PASSWORD})
        wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"

        response = client.post(reverse("console:login_verify"), {"code": wrong})

        assert response.status_code == 200
        assert b"That code is wrong" in response.content
        assert client.get(reverse("console:home")).status_code == 302

    def test_users_without_a_device_skip_the_code(self, client, csr):
        TOTPDevice.objects.create(user=csr, name="unfinished", confirmed=False)

        response = client.post(LOGIN, {"username": "casey", "password": PASSWORD})

        assert response.url == reverse("console:home")


@pytest.mark.django_db
class TestMfaSetup:
    def test_shows_the_secret_and_a_qr_code(self, client, csr):
        client.force_login(csr)

        response = client.get(reverse("console:mfa"))

        assert response.status_code == 200
        assert b"<svg" in response.content
        assert response.context["secret"]

    def test_turns_two_step_sign_in_on_with_a_right_code(self, client, csr, at):
        client.force_login(csr)
        client.get(reverse("console:mfa"))
        device = TOTPDevice.objects.get(user=csr)

        response = client.post(reverse("console:mfa"), {"code": _code(device)})

        device.refresh_from_db()
        assert response.status_code == 200
        assert device.confirmed
        assert AuditEvent.objects.filter(event="console.mfa.enabled", actor=csr).exists()
        assert client.get(reverse("console:home")).status_code == 200

    def test_keeps_it_off_after_a_wrong_code(self, client, csr):
        client.force_login(csr)
        client.get(reverse("console:mfa"))
        device = TOTPDevice.objects.get(user=csr)
        wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"

        response = client.post(reverse("console:mfa"), {"code": wrong})

        device.refresh_from_db()
        assert not device.confirmed
        assert b"does not match" in response.content


@pytest.mark.django_db
class TestExpiredSessionInHtmx:
    def test_moves_the_whole_page_to_sign_in(self, client):
        response = client.get(
            "/console/search/",
            {"q": "lopez"},
            headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/console/"},
        )

        assert response.headers["HX-Redirect"] == f"{LOGIN}?next=/console/"
