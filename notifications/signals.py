"""Signals for projects to hook into.

``notification_created`` is sent once per notification, after the transaction
that created it has committed: for ``send()``, for ``bulk_create`` and for a
plain ``save()`` (the admin, the ORM) alike. Receivers get ``sender`` (the
``Notification`` class) and ``notification`` (the saved instance)::

    from django.dispatch import receiver
    from notifications.signals import notification_created

    @receiver(notification_created)
    def email_errors(sender, notification, **kwargs):
        if notification.level_tag == "error":
            ...
"""

from django.dispatch import Signal

notification_created = Signal()
