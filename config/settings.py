"""Settings of the demo project.

Embedded defaults (SQLite, in-memory channel layer) run on a fresh machine with
nothing else installed. Two environment variables switch to real services:

* ``DATABASE_URL``, e.g. ``postgres://postgres@127.0.0.1:5432/test``
* ``REDIS_URL``, e.g. ``redis://127.0.0.1:6379/0`` (channels-redis layer,
  needed as soon as more than one process serves or sends)
"""

import os
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "notifications",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool (Django 5.1+, psycopg_pool): every socket handshake and HTTP
    # request borrows a connection instead of opening one (about 3 ms and a
    # PostgreSQL backend process each). Persistent connections (CONN_MAX_AGE)
    # do not fit ASGI, where work runs on many short-lived threads.
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 20, "timeout": 10}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections kept by the worker threads (SQLite opens them cheaply, but
    # not for free); health checks replace any that broke.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # IMMEDIATE takes the write lock at BEGIN, so concurrent senders queue
    # instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # A file, not :memory:, so that a Daphne subprocess in the tests sees it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("DATABASE_TEST_NAME") or str(BASE_DIR / "test_db.sqlite3")
    }
elif os.environ.get("DATABASE_TEST_NAME"):
    # Lets several test runs share one PostgreSQL server.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}


def redis_channel_layers(url, prefix=None):
    """Return CHANNEL_LAYERS for channels-redis at ``url``, with safe defaults."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 defaults socket_timeout to 5 s, the same as
                # channels-redis's blocking pop, which closes idle sockets with
                # 1011 (channels_redis#422), and caps the pool at 100
                # connections (handshakes fail under a connect storm).
                "hosts": [
                    {
                        "address": url,
                        "socket_timeout": 10,
                        "socket_keepalive": True,
                        "max_connections": 1000,
                    }
                ],
                # Shared by every socket of a process; the default of 100
                # silently drops pushes in a burst. Anything dropped is still
                # recovered through the cursor.
                "capacity": 1000,
                "expiry": 60,
                # Keys prefix; lets several projects (or test runs) share a Redis.
                "prefix": prefix or os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }


REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    # One process only: fine for the demo, never for several workers.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The history page at /notifications/ uses the demo's own layout.
NOTIFICATIONS = {"BASE_TEMPLATE": "base.html"}

# Email digests print to the console (manage.py notifications_email_digest).
# The demo prints emails (digests) to the console. Django 6.1 replaces
# EMAIL_BACKEND with MAILERS (and warns about the old setting).
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "notifications@localhost"
# `make demo`: categories to choose from (tests/test_demo.py seeds with them too).
DEMO_NOTIFICATIONS = {
    "CATEGORIES": {
        "demo": {"label": "Examples", "description": "What the demo sends."},
        "billing": {
            "label": "Billing",
            "description": "Invoices and failed payments.",
            "default": {"inapp": True, "email": True, "push": False},
        },
        "social": {"label": "Comments and likes", "default": {"email": False}},
        "security": {"label": "Security", "description": "New sign-ins.", "critical": True},
        "announcements": {"label": "Announcements", "description": "News for everyone."},
        "ops": {"label": "Maintenance", "description": "Planned downtime."},
    },
    "EMAIL_DELAY_MINUTES": int(os.environ.get("DEMO_EMAIL_DELAY_MINUTES", "1")),
    "SITE_URL": "http://127.0.0.1:8000",
}
if os.environ.get("DEMO_CATEGORIES") == "1":
    NOTIFICATIONS |= DEMO_NOTIFICATIONS
if os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY"):
    # export $(python manage.py notifications_vapid_keys --env)
    NOTIFICATIONS |= {
        "WEBPUSH_VAPID_PUBLIC_KEY": os.environ.get("WEBPUSH_VAPID_PUBLIC_KEY", ""),
        "WEBPUSH_VAPID_PRIVATE_KEY": os.environ["WEBPUSH_VAPID_PRIVATE_KEY"],
        "WEBPUSH_VAPID_SUBJECT": os.environ.get("WEBPUSH_VAPID_SUBJECT", "mailto:admin@localhost"),
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # propagate=False: Daphne configures the root logger too; each record once.
    "loggers": {"notifications": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
