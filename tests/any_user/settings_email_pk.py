"""The demo project with a user whose primary key is an e-mail address."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.any_user.email_pk"]
AUTH_USER_MODEL = "email_pk.User"
