"""The demo's URLs, the collected static files (no CDN in tests) and an API example page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path, re_path
from django.views.static import serve

from config.urls import urlpatterns as demo_urlpatterns


@login_required
def api_example(request):
    return render(request, "api_example.html")


urlpatterns = [
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
    path("api-example/", api_example),
    *demo_urlpatterns,
]
