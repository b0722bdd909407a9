"""The demo project with a UUID-keyed user who logs in by e-mail (not in the admin)."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.any_user.uuid_pk"]
AUTH_USER_MODEL = "uuid_pk.User"
