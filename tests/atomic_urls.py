"""Views for TX-06: the demo's URLs plus two views that send under ``ATOMIC_REQUESTS``."""

from django.http import HttpResponse
from django.urls import path

import notifications
from config.urls import urlpatterns as demo_urlpatterns


def send_then_succeed(request):
    notifications.send(request.user, "committed with the request")
    return HttpResponse(status=204)


def send_then_fail(request):
    notifications.send(request.user, "rolled back with the request")
    raise RuntimeError("the view failed after sending")


urlpatterns = [
    path("tx/ok/", send_then_succeed),
    path("tx/fail/", send_then_fail),
    *demo_urlpatterns,
]
