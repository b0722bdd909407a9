from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "level", "category", "created_at", "read_at"]
    list_filter = ["level", "category"]
    list_select_related = ["recipient"]
    search_fields = ["title", "message", "recipient__username"]
    raw_id_fields = ["recipient", "actor"]
    readonly_fields = ["cursor", "created_at"]
    fields = [
        "recipient",
        "title",
        "message",
        "level",
        "url",
        "category",
        "data",
        "actor",
        "read_at",
        "cursor",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        # A saved notification keeps its recipient: its cursor belongs to that user.
        if obj is not None:
            return [*self.readonly_fields, "recipient"]
        return self.readonly_fields
