"""The demo settings sending email over SMTP to ``127.0.0.1:$TEST_SMTP_PORT``.

For digest subprocesses (tests/test_digest.py), with categories declared and
no delay, plus ``TEST_NOTIFICATIONS`` (JSON) overrides.
"""

import json
import os

from config.settings import *  # noqa: F403

# The EMAIL_* settings work on every supported Django (6.1 deprecates them and
# refuses them beside MAILERS, which the demo settings set there).
globals().pop("MAILERS", None)
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("TEST_SMTP_PORT", "25"))
EMAIL_TIMEOUT = 10
NOTIFICATIONS = {
    **NOTIFICATIONS,  # noqa: F405
    "EMAIL_DELAY_MINUTES": 0,
    **json.loads(os.environ.get("TEST_NOTIFICATIONS", "{}")),
}
