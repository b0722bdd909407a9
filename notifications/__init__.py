"""Real-time in-app notifications for Django.

Send from anywhere, after the row is saved the recipient's open tabs get it
within milliseconds over a websocket, and clients recover what they missed
through a per-user cursor::

    import notifications

    notifications.send(user, "Your export is ready.", url="/exports/42/")
    notifications.success(request.user, "Saved.", title="Profile")
    notifications.send(Group.objects.get(name="staff"), "Deploy at 18:00", level="warning")

    user.notifications.unread().count()

See the README for the four edits that enable it in a project.
"""

from .api import debug, error, info, recipient_ids, send, success, warning
from .constants import DEBUG, ERROR, INFO, SUCCESS, WARNING, Level

__all__ = [
    "DEBUG",
    "ERROR",
    "INFO",
    "SUCCESS",
    "WARNING",
    "Level",
    "debug",
    "error",
    "info",
    "recipient_ids",
    "send",
    "success",
    "warning",
]
