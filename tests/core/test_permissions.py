import pytest
from django.contrib.auth.models import Group

from ohm.core.models import RoleLimit
from ohm.core.permissions import ROLES, _permission, ensure_roles, limit_cents, role_group


@pytest.mark.django_db
class TestEnsureRoles:
    def test_is_idempotent(self):
        ensure_roles()
        before = {
            g.name: set(g.permissions.values_list("codename", flat=True))
            for g in Group.objects.all()
        }

        ensure_roles()

        after = {
            g.name: set(g.permissions.values_list("codename", flat=True))
            for g in Group.objects.all()
        }
        assert after == before
        assert RoleLimit.objects.count() == len(ROLES)

    @pytest.mark.parametrize(
        "role", [r for r in ROLES if r.permissions != ["*"]], ids=lambda r: r.slug
    )
    def test_gives_each_role_exactly_its_permissions(self, role):
        ensure_roles()

        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in role_group(role.slug).permissions.select_related("content_type")
        }

        assert granted == set(role.permissions)
        for label in role.permissions:
            _permission(label)


@pytest.mark.django_db
class TestRoles:
    def test_limit_is_the_highest_of_the_persons_roles(self, make_staff):
        user = make_staff("csr")
        user.groups.add(role_group("lead_csr"), role_group("cashier"))

        assert limit_cents(user, "adjust") == 500_00
        assert limit_cents(user, "write_off") == 100_00

    def test_limit_is_zero_without_a_role(self, make_staff):
        user = make_staff("csr")
        user.groups.clear()

        assert limit_cents(user, "refund") == 0

    def test_only_a_supervisor_sees_sensitive_fields(self, csr, supervisor):
        assert not csr.has_perm("core.view_sensitive")
        assert supervisor.has_perm("core.view_sensitive")

    def test_a_field_technician_cannot_open_accounts(self, make_staff):
        technician = make_staff("field_technician")

        assert not technician.has_perm("customers.add_account")
        assert technician.has_perm("metering.add_meterinstallation")

    def test_an_administrator_has_every_permission(self, make_staff):
        admin = make_staff("administrator")

        assert admin.has_perm("core.view_sensitive")
        assert admin.has_perm("customers.add_account")
