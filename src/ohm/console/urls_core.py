from django.urls import path

from ohm.console.views import account, auth, home, search

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.verify_view, name="login_verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("mfa/", auth.mfa_setup_view, name="mfa"),
    path("search/", search.search, name="search"),
    path("accounts/<str:number>/", account.account_page, name="account"),
    path(
        "accounts/<str:number>/interactions/new/", account.log_interaction, name="log_interaction"
    ),
]
