from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.rates.models import RateSchedule


@admin.register(RateSchedule)
class RateScheduleAdmin(ModelAdmin):
    list_display = ["code", "name", "customer_class", "is_active"]
    list_filter = ["customer_class", "is_active"]
