"""The demo's settings with hashed static files, as in production (DEBUG off, collectstatic).

Used by test_static.py in a Daphne subprocess; STATIC_ROOT and the storage come
from the environment.
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import TEMPLATES

DEBUG = False
STATIC_ROOT = os.environ["NOTIFICATIONS_TEST_STATIC_ROOT"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "NOTIFICATIONS_TEST_STATIC_BACKEND",
            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        )
    },
}
ROOT_URLCONF = "tests.e2e.manifest_urls"
ASGI_APPLICATION = "tests.e2e.manifest_asgi.application"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]
