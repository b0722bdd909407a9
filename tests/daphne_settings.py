"""The demo settings plus ``NOTIFICATIONS`` overrides from ``TEST_NOTIFICATIONS`` (JSON).

For Daphne subprocesses whose limits a test needs small (flow control, caps).
"""

import json
import os

from config.settings import *  # noqa: F403

NOTIFICATIONS = {**NOTIFICATIONS, **json.loads(os.environ.get("TEST_NOTIFICATIONS", "{}"))}  # noqa: F405
