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


# The reference data that migrations seed (chart of accounts, work categories, reasons,
# fees, cycles …). A transactional test flushes every table when it ends; serialized
# rollback is meant to restore them for the next one, but under ``-n 2`` orders were seen
# where it did not (a concurrent-payment test found no chart of accounts). So every
# transactional test reseeds them (and the permissions and roles) first — all idempotent.
SEEDS = [
    ("ohm.ledger.migrations.0002_chart_and_append_only", "seed_chart"),
    ("ohm.workqueue.migrations.0002_categories", "add_categories"),
    ("ohm.customers.migrations.0002_interaction_reasons", "add_reasons"),
    ("ohm.financials.migrations.0002_seed", "seed"),
    ("ohm.billing.migrations.0002_cycles_rules_work", "add"),
    ("ohm.payments.migrations.0002_seed", "seed"),
    ("ohm.banking.migrations.0002_seed", "seed"),
]


@pytest.fixture(autouse=True)
def _reference_data_in_transactional_tests(request):
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if transactional:
        import importlib

        from django.apps import apps
        from django.core.management.sql import emit_post_migrate_signal

        request.getfixturevalue("transactional_db")
        # content types, permissions and roles, as after ``migrate``
        emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
        for module, function in SEEDS:
            getattr(importlib.import_module(module), function)(apps, None)
    return


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
