"""URLs of the notifications app: ``path("notifications/", include("notifications.urls"))``.

Any prefix works: the client gets every URL from the template tag, which
reverses these names.
"""

from django.urls import path, re_path

from . import preference_views, views, webpush_views

app_name = "notifications"

urlpatterns = [
    path("", views.history, name="history"),
    path("api/notifications/", views.notification_list, name="api-list"),
    path("api/notifications/read-all/", views.mark_all_read, name="api-read-all"),
    path("api/notifications/<int:pk>/read/", views.mark_read, name="api-read"),
    path("api/notifications/<int:pk>/unread/", views.mark_unread, name="api-unread"),
    path("api/notifications/<int:pk>/delete/", views.delete, name="api-delete"),
    path("api/notifications/<int:pk>/archive/", views.archive, name="api-archive"),
    path("api/notifications/<int:pk>/unarchive/", views.unarchive, name="api-unarchive"),
    path("api/notifications/<int:pk>/snooze/", views.snooze, name="api-snooze"),
    path("api/notifications/<int:pk>/pin/", views.pin, name="api-pin"),
    path("api/notifications/<int:pk>/unpin/", views.unpin, name="api-unpin"),
    path("api/notifications/seen/", views.mark_seen, name="api-seen"),
    path("api/unread-count/", views.unread_count, name="api-unread-count"),
    path("preferences/", preference_views.preferences_page, name="preferences"),
    path("api/preferences/", preference_views.preferences_api, name="api-preferences"),
    path("unsubscribe/<str:token>/", preference_views.unsubscribe, name="unsubscribe"),
    path("service-worker.js", webpush_views.service_worker, name="service-worker"),
    path("api/push/", webpush_views.push_config, name="api-push"),
    path("api/push/subscriptions/", webpush_views.subscribe, name="api-push-subscribe"),
    path(
        "api/push/subscriptions/delete/",
        webpush_views.unsubscribe,
        name="api-push-unsubscribe",
    ),
    # Anything else under api/ is a JSON 404, not the project's HTML page.
    re_path(r"^api/", views.api_not_found),
]
