"""Any user model: the app under an e-mail primary key and under a UUID key with e-mail login.

``AUTH_USER_MODEL`` cannot change inside one test process, so each model gets
a pytest run of ``tests/any_user`` in a subprocess with its own settings and
test database, on the same database engine and channel layer as this run
(SQLite + in-memory in ``make test-sqlite``, PostgreSQL + Redis in
``make test-postgres``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("settings_module", "expected"),
    [
        ("tests.any_user.settings_email_pk", "6 passed"),
        # Not registered in the admin: the autocomplete lookup test does not apply.
        ("tests.any_user.settings_uuid_pk", "5 passed, 1 skipped"),
    ],
)
def test_suite_passes_under_another_user_model(tmp_path, settings_module, expected):
    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        test_database = f"test_any_user_{uuid.uuid4().hex[:12]}"
    else:
        test_database = str(tmp_path / "test_any_user.sqlite3")
    env = {
        **os.environ,
        "DATABASE_TEST_NAME": test_database,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/any_user",
            "--ds",
            settings_module,
            "-p",
            "no:cacheprovider",
            "-q",
            "--create-db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert re.search(rf"\b{expected} in ", summary), output
