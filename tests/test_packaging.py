"""The built wheel: the app with its migrations, templates, static files and tags, nothing else."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "notifications"


def build_wheel(workdir: Path) -> Path:
    """Build the project's wheel from a copy of the working tree; return its path.

    The copy keeps setuptools' build/ and *.egg-info out of the shared tree and
    proves the wheel needs nothing outside pyproject.toml, README.md and the app.
    """
    source = workdir / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        PACKAGE, source / "notifications", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    dist = workdir / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    [wheel] = dist.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_contains_every_file_of_the_app(wheel):
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected - names(wheel) == set()


@pytest.mark.parametrize(
    "name",
    [
        "notifications/migrations/0001_initial.py",
        "notifications/templates/notifications/live.html",
        "notifications/static/notifications/notifications.js",
        "notifications/static/notifications/notifications.css",
        "notifications/templatetags/notifications.py",
        "notifications/management/commands/import_notifications_hq.py",
    ],
)
def test_wheel_contains_data_files(wheel, name):
    assert name in names(wheel)


def test_wheel_contains_only_the_app(wheel):
    top = {name.split("/", 1)[0] for name in names(wheel)}
    assert top == {"notifications", "django_live_notifications-0.1.0.dist-info"}


def test_wheel_declares_runtime_dependencies(wheel):
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(
            archive.read("django_live_notifications-0.1.0.dist-info/METADATA")
        )
    assert metadata["Name"] == "django-live-notifications"
    assert metadata["Requires-Python"] == ">=3.11"
    requires = {r.replace(" ", "") for r in metadata.get_all("Requires-Dist")}
    assert requires == {"Django<6,>=5.2", "channels>=4.3", "daphne>=4.2.2", "channels-redis>=4.3"}
