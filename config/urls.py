from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("strict-csp/", views.strict_csp, name="strict-csp"),
    path("send-test/", views.send_test, name="send-test"),
    path("demo/approve/<int:pk>/", views.approve, name="demo-approve"),
    path("favicon.svg", views.favicon, name="favicon"),
    path("favicon.ico", views.favicon),
    path("notifications/", include("notifications.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
