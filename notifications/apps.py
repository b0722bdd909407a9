from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks and the hooks that close revoked sockets."""
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        # The checks register themselves on import; they run on check, runserver, migrate.
        from . import checks  # noqa: F401
        from .auth import close_sockets_on_logout, user_changed

        # Logging out closes that session's open sockets at once (4401); a
        # password change, deactivation or deletion closes the user's others.
        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="notifications.logout")
        for signal in (post_save, post_delete):
            signal.connect(
                user_changed,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid=f"notifications.user_changed.{signal is post_save}",
            )
