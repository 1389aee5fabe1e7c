"""The API's error shape: every error body is ``{"detail": ...}``.

- 401, 403, 404: ``{"detail": "<one sentence saying what is wrong>"}``
- 422: ``{"detail": [{"loc": ["path", "number"], "msg": "<what to fix>", "type": "<code>"}]}``,
  one entry per bad field; ``loc`` is where the value came from (``path``, ``query``) and
  the parameter's name.
"""

from __future__ import annotations

from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

UNAUTHORIZED = "Send a valid API token in the Authorization header: Bearer <token>."


class NotFound(HttpError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Forbidden(HttpError):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


def invalid(source: str, field: str, message: str, code: str = "invalid") -> ValidationError:
    """A 422 naming one field, e.g. ``invalid("path", "number", "…check digit…")``."""
    return ValidationError([{"loc": [source, field], "msg": message, "type": code}])


def invalid_from_django(source: str, field: str, exc: DjangoValidationError) -> ValidationError:
    """A domain ``ValidationError`` about one input, as a 422 naming that input."""
    return ValidationError(
        [
            {"loc": [source, field], "msg": message, "type": error.code or "invalid"}
            for error in exc.error_list
            for message in error.messages
        ]
    )


def _unauthorized(request: HttpRequest, exc: Exception, api: NinjaAPI) -> HttpResponse:
    response = api.create_response(request, {"detail": UNAUTHORIZED}, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


def _validation_error(request: HttpRequest, exc: Exception, api: NinjaAPI) -> HttpResponse:
    # Pydantic adds "input", "ctx" and "url"; keep only the documented keys so every 422
    # has the same shape, and so a rejected value is never echoed back.
    assert isinstance(exc, ValidationError)
    errors = [
        {
            "loc": list(error.get("loc", [])),
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "invalid")),
        }
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": errors}, status=422)


def install(api: NinjaAPI) -> None:
    api.add_exception_handler(AuthenticationError, partial(_unauthorized, api=api))
    api.add_exception_handler(ValidationError, partial(_validation_error, api=api))
