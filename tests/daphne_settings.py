"""The demo settings plus ``NOTIFICATIONS`` overrides from ``TEST_NOTIFICATIONS`` (JSON).

For Daphne subprocesses whose limits a test needs small (flow control, caps), and
``CSRF_TRUSTED_ORIGINS`` from ``TEST_CSRF_TRUSTED_ORIGINS`` (JSON).
"""

import json
import os

from config.settings import *  # noqa: F403

NOTIFICATIONS = {**NOTIFICATIONS, **json.loads(os.environ.get("TEST_NOTIFICATIONS", "{}"))}  # noqa: F405

# Origins a test's Daphne trusts, e.g. its own https:// origin when it serves TLS itself.
CSRF_TRUSTED_ORIGINS = json.loads(os.environ.get("TEST_CSRF_TRUSTED_ORIGINS", "[]"))

# A rotated key: the new one, and the old one still accepted (AUTH-08).
SECRET_KEY_FALLBACKS = json.loads(os.environ.get("TEST_SECRET_KEY_FALLBACKS", "[]"))
