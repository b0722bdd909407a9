"""What a new user does: startproject, install, the README's four edits, migrate, run, receive.

The edits are the code blocks that README.md marks with ``<!-- install:NAME -->``,
applied as the README says (add at the end, replace the file, before
``</body>``), so this test fails when the README's instructions stop working.
The package is installed from a wheel built from the working tree into a
directory of its own; the child processes never see the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import (
    TEST_REDIS_URL,
    free_port,
    redis_problem,
    require,
    terminate,
    wait_for_port,
)
from tests.test_packaging import build_wheel

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"<!-- install:(?P<name>[\w-]+) -->\n```\w*\n(?P<body>.*?)```", re.S)


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(README.read_text())}


def test_readme_marks_the_four_edits_and_the_commands():
    blocks = readme_blocks()
    assert set(blocks) == {"settings", "asgi", "urls", "template", "run"}
    assert 'path("notifications/", include("notifications.urls"))' in blocks["urls"]
    assert "{% load notifications %}" in blocks["template"]
    assert "websocket_application()" in blocks["asgi"]
    assert "python manage.py migrate" in blocks["run"]


class NewProject:
    """A ``startproject`` in a temporary directory, run by subprocesses."""

    def __init__(self, root: Path, site: Path) -> None:
        self.dir = root / "mysite"
        self.site = site
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "REDIS_URL"}
        }
        # The installed package, and only it: no path to the repository.
        self.env = {**env, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
        self.run(str(BIN / "django-admin"), "startproject", "mysite", cwd=root)

    def run(self, *argv: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            argv, cwd=cwd or self.dir, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def manage(self, *args: str) -> str:
        return self.run(sys.executable, "manage.py", *args)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).strip()


def readme_command(blocks: dict[str, str], startswith: str) -> list[str]:
    """Return the README's command line that begins with ``startswith``, as argv."""
    for line in blocks["run"].splitlines():
        if line.startswith(startswith):
            argv = shlex.split(line)
            return [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    raise AssertionError(f"README's install:run block has no {startswith!r} line")


def apply_readme(project: NewProject, blocks: dict[str, str], prefix: str) -> None:
    package = project.dir / "mysite"
    with open(package / "settings.py", "a") as settings:
        settings.write("\n" + blocks["settings"])
        # Test scaffolding, not part of the README: this run's Redis and key
        # prefix, and a templates directory for the base template.
        settings.write(
            f'\nCHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = {TEST_REDIS_URL!r}'
            f'\nCHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = {prefix!r}'
            '\nTEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]\n'
        )
    (package / "asgi.py").write_text(blocks["asgi"])
    with open(package / "urls.py", "a") as urls:
        urls.write("\n" + blocks["urls"])
        urls.write(
            "\nfrom django.views.generic import TemplateView\n"
            'urlpatterns += [path("", TemplateView.as_view(template_name="base.html"))]\n'
        )
    templates = project.dir / "templates"
    templates.mkdir()
    (templates / "base.html").write_text(
        "<!doctype html>\n<html><head><title>mysite</title></head>\n<body>\n<h1>Home</h1>\n"
        + blocks["template"]
        + "</body>\n</html>\n"
    )


class Server:
    def __init__(self, argv: list[str], project: NewProject) -> None:
        self.port = free_port()
        self.log = project.dir / "server.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [*argv, f"127.0.0.1:{self.port}", "--noreload"],
                cwd=project.dir,
                env={**project.env, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.process, self.port, 30, self.output)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        terminate(self.process)


def http_get(url: str, cookie: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with opener.open(request, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.timeout(240)
def test_new_project_receives_a_notification_by_following_the_readme(tmp_path):
    require("Redis", redis_problem())
    blocks = readme_blocks()

    # pip install, from the working tree, into a directory of its own.
    wheel = build_wheel(tmp_path / "build")
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--target", str(site), str(wheel)], check=True, timeout=120)

    project = NewProject(tmp_path, site)
    apply_readme(project, blocks, prefix=f"startproject-{uuid.uuid4().hex[:12]}")
    installed = project.run(
        sys.executable, "-c", "import notifications; print(notifications.__file__)"
    )
    assert installed.strip().startswith(str(site)), installed

    project.run(*readme_command(blocks, "python manage.py migrate"))
    # The README's set-up passes every check, ours included, even as warnings.
    project.manage("check", "--fail-level", "WARNING")

    cookie = project.shell(
        "from django.contrib.auth import get_user_model; from django.test import Client; "
        "from django.conf import settings; "
        "u = get_user_model().objects.create_user('newuser', password='pw'); "
        "c = Client(); c.force_login(u); "
        "print(f'{settings.SESSION_COOKIE_NAME}={c.cookies[settings.SESSION_COOKIE_NAME].value}')"
    ).splitlines()[-1]

    server = Server(readme_command(blocks, "python manage.py runserver"), project)
    try:
        origin = f"http://127.0.0.1:{server.port}"
        status, page = http_get(origin + "/", cookie)
        assert status == 200
        script = re.search(r'<script[^>]+src="([^"]+notifications\.js)"', page)
        assert script, f"no notifications script on the page:\n{page}"
        assert http_get(origin + script[1], cookie)[0] == 200

        with connect(
            f"ws://127.0.0.1:{server.port}/ws/notifications/",
            origin=origin,
            additional_headers={"Cookie": cookie},
            proxy=None,
            open_timeout=10,
        ) as ws:
            state = json.loads(ws.recv(timeout=10))
            assert state["type"] == "state"
            project.shell(
                "import notifications; from django.contrib.auth import get_user_model; "
                "notifications.send(get_user_model().objects.get(username='newuser'), "
                "'Hello from a new project', title='Welcome')"
            )
            frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "notification.created"
        assert frame["notification"]["message"] == "Hello from a new project"
        assert frame["notification"]["title"] == "Welcome"
        assert frame["unread_count"] == 1
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()
