from django.contrib.auth import views as auth_views

login_view = auth_views.LoginView.as_view(template_name="console/login.html")
logout_view = auth_views.LogoutView.as_view(next_page="console:login")
