from django.contrib import admin

from .models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    # With search_fields: the notification admin uses autocomplete.
    search_fields = ["email"]
    ordering = ["email"]
