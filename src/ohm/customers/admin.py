from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.customers.models import InteractionReason


@admin.register(InteractionReason)
class InteractionReasonAdmin(ModelAdmin):
    list_display = ["code", "label", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
