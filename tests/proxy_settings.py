"""The demo settings behind a TLS-terminating proxy that sends ``X-Forwarded-Proto``."""

from config.settings import *  # noqa: F403

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
