from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from ohm.metering.models import Meter, MeterChannel


class MeterChannelInline(TabularInline):
    model = MeterChannel
    extra = 0


@admin.register(Meter)
class MeterAdmin(ModelAdmin):
    """Meter inventory (purchase, retirement); installations happen through field work."""

    list_display = ["serial", "make", "model", "kind", "multiplier", "status"]
    list_filter = ["kind", "status", "make"]
    search_fields = ["serial"]
    inlines = [MeterChannelInline]
    readonly_fields = ["status"]
