"""The REST API for integrations (IVR, field apps, AMI, payments), mounted at ``/api/``.

Every endpoint needs ``Authorization: Bearer <token>`` (see ``ohm api_token``) and its own
Django permission; the OpenAPI 3.1 document is at ``/api/openapi.json`` and the docs UI at
``/api/docs``. Errors are described in ``ohm.api.errors``.
"""

from ninja import NinjaAPI

from ohm.api import (
    accounts,
    banking,
    books,
    errors,
    financials,
    meters,
    payments,
    persons,
    premises,
    rates,
    search,
)
from ohm.api.auth import TokenAuth

api = NinjaAPI(
    title="Ohm API",
    version="1",
    description=(
        "Ohm's customer, premise, meter and books records for integrations, and writes to "
        "the books (adjustments, fees, transfers, write-offs, approvals) with an Idempotency-Key. "
        "Authenticate with `Authorization: Bearer <token>`; create a token with "
        "`ohm api_token create --user NAME --name LABEL`. Errors are "
        '`{"detail": "message"}`, or for bad input (422) '
        '`{"detail": [{"loc": ["path", "number"], "msg": "…", "type": "…"}]}`.'
    ),
    auth=TokenAuth(),
)
errors.install(api)

for module in (accounts, persons, premises, meters, search, books, financials, rates, banking):
    api.add_router("/", module.router)
api.add_router("/", payments.router)
