"""Rate schedules in the admin as reference data; versions are read-only here (the console's
version editor validates, audits and routes approval)."""

from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.rates.models import RateSchedule, RateVersion


@admin.register(RateSchedule)
class RateScheduleAdmin(ModelAdmin):
    list_display = [
        "code",
        "name",
        "customer_class",
        "requires_interval_meter",
        "required_program",
        "is_active",
    ]
    list_filter = ["customer_class", "is_active", "requires_interval_meter", "required_program"]


@admin.register(RateVersion)
class RateVersionAdmin(ModelAdmin):
    list_display = ["schedule", "number", "effective_date", "status", "source", "approved_by_label"]
    list_filter = ["status", "source", "schedule"]
    readonly_fields = [f.name for f in RateVersion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
