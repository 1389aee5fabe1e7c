"""Staff sign-in: password (locked after repeated failures by django-axes), then a TOTP code
for staff who set one up, and the ``staff_required`` guard every console view uses."""

from __future__ import annotations

import base64
from functools import wraps

import django_otp
import qrcode
import qrcode.image.svg
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect
from django_otp.plugins.otp_totp.models import TOTPDevice

from ohm.console.forms_core import OTPCodeForm
from ohm.core import audit, clock


def needs_second_factor(user) -> bool:
    """Signed in with a password but not yet with the TOTP code their confirmed device asks."""
    # OTPMiddleware sets otp_device on request.user; a user fresh from the password form has none.
    return getattr(user, "otp_device", None) is None and django_otp.user_has_device(
        user, confirmed=True
    )


def _verify_url(next_url: str) -> str:
    return f"{reverse('console:login_verify')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"


def _page_path(request) -> str:
    """Where to come back to: for an htmx fragment, the page it was requested from."""
    if request.htmx and request.htmx.current_url_abs_path:
        return request.htmx.current_url_abs_path
    return request.get_full_path()


def _send_to(request, url: str):
    # An htmx fragment (live search, inline form) after the session timed out must move the
    # whole page to the sign-in, not draw the sign-in form inside the fragment.
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def staff_required(view=None, *, perm: str | None = None):
    """Guard a console view: signed in, active, past the second factor when the user has one,
    and holding ``perm`` when given (403 without it)."""

    def decorate(view_func):
        @wraps(view_func)
        def guarded(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated or not user.is_active:
                return _send_to(request, redirect_to_login(_page_path(request)).url)
            if needs_second_factor(user):
                return _send_to(request, _verify_url(_page_path(request)))
            if perm and not user.has_perm(perm):
                raise PermissionDenied
            return view_func(request, *args, **kwargs)

        return guarded

    return decorate(view) if view is not None else decorate


class StaffRequiredMixin:
    """``staff_required`` for class-based views; set ``permission`` to require one."""

    permission: str | None = None

    @classmethod
    def as_view(cls, **initkwargs):
        return staff_required(super().as_view(**initkwargs), perm=cls.permission)


def _next_url(request, default: str) -> str:
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class ConsoleLoginView(auth_views.LoginView):
    """The password step. Users with a confirmed TOTP device continue to the code step."""

    template_name = "console/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if needs_second_factor(form.get_user()):
            return redirect(_verify_url(self.get_success_url()))
        return response


login_view = ConsoleLoginView.as_view()
logout_view = auth_views.LogoutView.as_view(next_page="console:login")


@login_required
@require_http_methods(["GET", "POST"])
def verify_view(request):
    """The code step: the 6-digit TOTP code from the user's authenticator app."""
    home = reverse("console:home")
    if not needs_second_factor(request.user):
        return redirect(_next_url(request, home))
    form = OTPCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["code"])
        if device is not None:
            django_otp.login(request, device)
            return redirect(_next_url(request, home))
        form.add_error(
            "code", "That code is wrong or has expired: enter the code your app shows now."
        )
    return render(
        request, "console/mfa_verify.html", {"form": form, "next": _next_url(request, home)}
    )


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


@staff_required
@require_http_methods(["GET", "POST"])
def mfa_setup_view(request):
    """Set up a TOTP authenticator: show the secret and its QR code, confirm with one code."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None:
        return render(request, "console/mfa_setup.html", {"confirmed": confirmed})
    # One pending device per user, kept across page loads so the QR code stays the same.
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = OTPCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)
            audit.record("console.mfa.enabled", subject=None, actor=user, at=clock.now())
            return render(
                request, "console/mfa_setup.html", {"confirmed": device, "just_confirmed": True}
            )
        form.add_error(
            "code",
            "That code does not match: check the phone's clock and enter the code shown now.",
        )
    context = {
        "form": form,
        "secret": base64.b32encode(device.bin_key).decode(),
        "qr_svg": _qr_svg(device.config_url),
    }
    return render(request, "console/mfa_setup.html", context)
