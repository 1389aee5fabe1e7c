from django.contrib import admin
from unfold.admin import ModelAdmin

from ohm.workqueue.models import WorkCategory


@admin.register(WorkCategory)
class WorkCategoryAdmin(ModelAdmin):
    list_display = ["code", "label", "team", "default_priority", "due_days"]
