"""``{% load notifications %}{% notifications_live %}``: the live client on a page."""

from django import template

register = template.Library()


@register.inclusion_tag("notifications/live.html", takes_context=True)
def notifications_live(context, nonce=""):
    """Render the client's stylesheet, script and containers.

    ``nonce`` is put on the script and style tags for a strict CSP, e.g.
    ``{% notifications_live nonce=request.csp_nonce %}``.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "enabled": bool(user and user.is_authenticated),
        "socket_path": "/ws/notifications/",
        "nonce": nonce,
    }
