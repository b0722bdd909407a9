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

    The copy proves the wheel needs nothing outside pyproject.toml, README.md,
    LICENSE and the app (a build from the checkout itself writes nothing there
    either: ``test_building_from_the_checkout_writes_nothing_into_it``).
    """
    source = workdir / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
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


DIST_INFO = "django_realtime_notifications-0.1.0.dist-info"


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        return email.message_from_bytes(archive.read(f"{DIST_INFO}/METADATA"))


def test_wheel_contains_only_the_app(wheel):
    top = {name.split("/", 1)[0] for name in names(wheel)}
    assert top == {"notifications", DIST_INFO}
    assert not [name for name in names(wheel) if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_declares_runtime_dependencies(wheel):
    meta = metadata(wheel)
    assert meta["Name"] == "django-realtime-notifications"
    assert meta["Requires-Python"] == ">=3.11"
    requires = {r.replace(" ", "") for r in meta.get_all("Requires-Dist")}
    assert requires == {
        "django<6.2,>=5.2",
        "channels>=4.3",
        "daphne>=4.2.2",
        "channels-redis>=4.3",
        "pywebpush==2.5.0;extra=='webpush'",
        "py-vapid==1.9.6;extra=='webpush'",
    }
    assert meta.get_all("Provides-Extra") == ["webpush"]


def test_wheel_carries_the_mit_license_and_py_typed(wheel):
    meta = metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    with zipfile.ZipFile(wheel) as archive:
        license_text = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert license_text.startswith("MIT License")
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "notifications/py.typed" in names(wheel)


def test_classifiers_declare_the_supported_pythons_and_djangos(wheel):
    classifiers = set(metadata(wheel).get_all("Classifier"))
    assert {
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    } <= classifiers


def _tree(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if not {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".nox"}
        & set(path.relative_to(root).parts)
        and not path.name.startswith((".daphne-", "test_db"))
    }


def test_building_from_the_checkout_writes_nothing_into_it(tmp_path):
    """``pip install .`` and ``pip wheel .`` leave no build/ or *.egg-info behind."""
    before = _tree(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    assert [path.name for path in tmp_path.glob("*.whl")] == [f"{DIST_INFO[:-10]}-py3-none-any.whl"]
    assert _tree(ROOT) - before == set()
