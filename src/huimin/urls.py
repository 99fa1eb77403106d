from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from huimin.accounts import security_views
from huimin.api import api
from huimin.front.views import home

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", security_views.PasswordChangeView.as_view(),
         name="password_change"),
    path("account/password/done/", security_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("account/totp/enrol/", security_views.totp_enrol, name="totp_enrol"),
    path("account/totp/verify/", security_views.totp_verify, name="totp_verify"),
    path("registry/", include("huimin.registry.urls")),
    path("cases/", include("huimin.cases.urls")),
    path("notices/", include("huimin.cases.notice_urls")),
    path("audit/", include("huimin.audit.urls")),
    path("payments/", include("huimin.payments.urls")),
    path("reports/", include("huimin.reports.urls")),
    path("programs/", include("huimin.programs.urls")),
    path("feeds/", include("huimin.verification.urls")),
    path("identity/", include("huimin.identity.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]

# the front (huimin.front): a village's or township's payment lines, and the error pages
urlpatterns += [path("area/", include("huimin.front.urls"))]
# 帮助: the user manual of each role
urlpatterns += [path("help/", include("huimin.help.urls"))]
handler403 = "huimin.front.errors.permission_denied"
handler404 = "huimin.front.errors.page_not_found"
handler500 = "huimin.front.errors.server_error"
