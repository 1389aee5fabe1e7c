from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse

login_view = auth_views.LoginView.as_view(template_name="console/login.html")


@login_required
def home(request):
    return HttpResponse("console")
