from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ohm.api.routes import api

admin.site.site_header = "Ohm administration"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:home", permanent=False)),
    path("console/", include("ohm.console.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
