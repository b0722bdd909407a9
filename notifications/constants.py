"""Constants that need no app registry: safe to import from anywhere."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    """The levels of ``django.contrib.messages``, with the same numbers."""

    DEBUG = 10, _("debug")
    INFO = 20, _("info")
    SUCCESS = 25, _("success")
    WARNING = 30, _("warning")
    ERROR = 40, _("error")


DEBUG = Level.DEBUG
INFO = Level.INFO
SUCCESS = Level.SUCCESS
WARNING = Level.WARNING
ERROR = Level.ERROR
