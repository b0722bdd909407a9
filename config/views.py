"""Demo pages: a home page that shows live notifications, and a test button."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

import notifications


@login_required
def home(request):
    recent = request.user.notifications.select_related("actor")[:10]
    return render(request, "home.html", {"recent": recent})


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
    return redirect("home")
