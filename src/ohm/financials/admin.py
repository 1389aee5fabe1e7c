from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.financials.models import AdjustmentReason, FeeSchedule, FinancialRequest


@admin.register(AdjustmentReason)
class AdjustmentReasonAdmin(ModelAdmin):
    list_display = ["code", "label", "direction", "gl_role", "line_category", "is_active"]
    list_filter = ["is_active", "direction"]
    search_fields = ["code", "label"]


@admin.register(FeeSchedule)
class FeeScheduleAdmin(ModelAdmin):
    list_display = [
        "kind",
        "effective_date",
        "amount_cents",
        "rate_basis_points",
        "floor_cents",
        "cap_cents",
    ]
    list_filter = ["kind"]


@admin.register(FinancialRequest)
class FinancialRequestAdmin(ModelAdmin):
    """Read-only: requests change only through approve, reject and cancel."""

    list_display = [
        "pk",
        "kind",
        "summary",
        "amount_cents",
        "status",
        "maker",
        "checker",
        "made_at",
    ]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in FinancialRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
