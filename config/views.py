"""Demo pages: a home page that shows live notifications, a test button, a favicon."""

import secrets

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

import notifications


@login_required
def home(request):
    recent = request.user.notifications.select_related("actor")[:10]
    return render(request, "home.html", {"recent": recent})


@login_required
def strict_csp(request):
    """Serve the home page under a strict Content-Security-Policy (nonce, no inline script)."""
    # django-csp and similar set request.csp_nonce; {% notifications_live %} picks it up.
    request.csp_nonce = nonce = secrets.token_urlsafe(16)
    recent = request.user.notifications.select_related("actor")[:10]
    response = render(request, "home.html", {"recent": recent, "strict_csp": True})
    response["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "connect-src 'self'",
            "img-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return response


@login_required
@require_POST
def send_test(request):
    level = request.POST.get("level", "info")
    if level not in {"debug", "info", "success", "warning", "error"}:
        level = "info"
    notifications.send(
        request.user,
        "This notification was sent by the button on the demo page.",
        title=f"A {level} notification",
        level=level,
        url="/",
        category="demo",
    )
    # 204: the browser stays on the page, so the toast arrives over the socket
    # in the page that pressed the button (a redirect would reload it).
    return HttpResponse(status=204)


@login_required
@require_POST
def approve(request, pk):
    """The target of the demo's "Approve" action button: a POST with the CSRF token."""
    # The request's notification (sent with key="expense-<pk>") is done: read.
    request.user.notifications.filter(key=f"expense-{pk}").mark_read()
    return JsonResponse({"approved": pk})


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="8" fill="#2563eb"/>'
    '<path fill="#fff" d="M16 26a3 3 0 0 0 2.9-2.3h-5.8A3 3 0 0 0 16 26Z'
    "m7.5-6.4V15a7.5 7.5 0 0 0-5.8-7.3V7a1.7 1.7 0 0 0-3.4 0v.7"
    'A7.5 7.5 0 0 0 8.5 15v4.6L6.5 22v.8h19V22l-2-2.4Z"/></svg>'
)


@cache_control(max_age=86400, public=True)
def favicon(request):
    """The demo's icon: a bell (SVG; browsers asking for /favicon.ico get it too)."""
    return HttpResponse(FAVICON, content_type="image/svg+xml")
