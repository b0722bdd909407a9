"""The supported Python x Django matrix, installed from PyPI into fresh virtualenvs.

``make test`` runs the whole suite (SQLite, PostgreSQL + Redis, browser) in
``.venv`` (the oldest pair: Python 3.11, Django 5.2 from requirements.txt),
then ``nox`` runs it again on the newest pair, Python 3.13 with Django 6.1.
Any other pair: ``nox -s "tests-3.12(django='6.0')"``; only some suites:
``nox -s ... -- sqlite`` (``sqlite``, ``postgres``, ``e2e``; default all three).
A missing interpreter is an error, never a skip.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS", "redis://127.0.0.1:6379/0")
SUITES = ("sqlite", "postgres", "e2e")

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests-3.13(django='6.1')"]


PYTHONS = ("3.11", "3.12", "3.13")
# pyenv's shims answer only for the versions selected with `pyenv global`: put
# each installed build's bin first on PATH so nox finds python3.11 ... python3.13.
for _version in PYTHONS:
    for _bin in sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{_version}.*/bin"))):
        os.environ["PATH"] = _bin + os.pathsep + os.environ["PATH"]


@nox.session(python=list(PYTHONS))
@nox.parametrize("django", ["5.2", "6.0", "6.1"])
def tests(session: nox.Session, django: str) -> None:
    """Run the suite on one Python and one Django series (the newest release of it)."""
    version = session.run(
        "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True
    ).strip()
    if version == "3.11" and django != "5.2":
        session.skip("Django 6 needs Python 3.12 or later")
    suites = session.posargs or SUITES
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        session.error(f"Unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}.")

    # requirements.txt pins the oldest Django; this session wants another series.
    requirements = Path(session.create_tmp()) / "requirements.txt"
    requirements.write_text(
        "".join(
            line + "\n"
            for line in (ROOT / "requirements.txt").read_text().splitlines()
            if not line.lower().startswith("django==")
        )
    )
    session.install("--quiet", "-r", str(requirements), f"Django=={django}.*")
    session.run("python", "-m", "django", "--version")

    tag = hashlib.sha1(f"{ROOT}{version}{django}".encode()).hexdigest()[:8]
    session.run(
        "python",
        "manage.py",
        "makemigrations",
        "--check",
        "--dry-run",
        env={"DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    if "sqlite" in suites:
        session.run(
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            env={"DATABASE_TEST_NAME": str(ROOT / f"test_db_nox_{tag}.sqlite3")},
        )
    services = {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL}
    if "postgres" in suites:
        session.run(
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            env={**services, "DATABASE_TEST_NAME": f"test_nox_{tag}"},
        )
    if "e2e" in suites:
        session.run(
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/e2e",
            env={**services, "DATABASE_TEST_NAME": f"test_nox_e2e_{tag}"},
        )
