from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks and the logout hook."""
        # Logging out closes that session's open sockets at once (4401).
        from django.contrib.auth.signals import user_logged_out

        # The checks register themselves on import; they run on check, runserver, migrate.
        from . import checks  # noqa: F401
        from .auth import close_sockets_on_logout

        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="notifications.logout")
