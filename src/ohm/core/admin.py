"""Administration of reference data only; CSR work happens in the console."""

from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.core.models import ApiToken, AuditEvent, RoleLimit


@admin.register(RoleLimit)
class RoleLimitAdmin(ModelAdmin):
    list_display = ["group", "adjust_limit_cents", "refund_limit_cents", "write_off_limit_cents"]


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "name",
        "user",
        "prefix",
        "token_sha256",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    def has_add_permission(self, request):
        return False  # tokens are created with `ohm api_token create`, which shows the token once


@admin.register(AuditEvent)
class AuditEventAdmin(ModelAdmin):
    list_display = ["occurred_at", "actor_label", "event", "subject_label", "reason"]
    list_filter = ["event"]
    search_fields = ["event", "actor_label", "subject_label"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
