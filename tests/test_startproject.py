"""What a new user does: startproject, install, the README's four edits and commands, receive.

Every step comes from README.md: the code blocks marked ``<!-- install:NAME -->``
are applied as the README says (add at the end, replace the file, create the
template) and its commands are run as written. What a test cannot do like a
person is said where it happens: ``createsuperuser`` gets its answers from
Django's own ``DJANGO_SUPERUSER_*`` variables instead of a terminal, the
server gets a free port, and ``REDIS_URL`` (which the README's settings read)
points at a Redis database of this run's own. The package is installed from a
wheel built from the working tree into a directory of its own; the child
processes never see the repository. The browser half (a person logging in
and seeing the toast) is ``tests/e2e/test_readme.py``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
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
LOGIN, PASSWORD = "firstuser", "a-long-password-9"


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(README.read_text())}


def test_readme_marks_the_four_edits_and_the_commands():
    blocks = readme_blocks()
    assert set(blocks) == {"settings", "asgi", "urls", "template", "run", "send"}
    assert 'path("notifications/", include("notifications.urls"))' in blocks["urls"]
    assert "{% notifications_live %}" in blocks["template"]
    assert "websocket_application()" in blocks["asgi"]
    assert [line.split()[2] for line in blocks["run"].splitlines()] == [
        "migrate",
        "createsuperuser",
        "runserver",
    ]
    # Any user model: no username field named in the instructions.
    assert not re.search(r"(?<!get_)username", "".join(blocks.values()))


class NewProject:
    """A ``startproject`` in a temporary directory, run by subprocesses."""

    def __init__(self, root: Path, site: Path) -> None:
        self.dir = root / "mysite"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "REDIS_URL"}
        }
        # A Redis database of this run's own: runs sharing a Redis (user ids repeat
        # across projects) never see each other's pushes.
        redis = urllib.parse.urlsplit(TEST_REDIS_URL)._replace(path=f"/{random.randint(1, 15)}")
        # The installed package, and only it: no path to the repository.
        self.env = {
            **env,
            "PYTHONPATH": str(site),
            "PYTHONNOUSERSITE": "1",
            "REDIS_URL": urllib.parse.urlunsplit(redis),
        }
        self.run(str(BIN / "django-admin"), "startproject", "mysite", cwd=root)

    def run(self, *argv: str, cwd: Path | None = None, env: dict | None = None) -> str:
        result = subprocess.run(
            argv,
            cwd=cwd or self.dir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def manage(self, *args: str) -> str:
        return self.run(sys.executable, "manage.py", *args)


def argv(line: str) -> list[str]:
    words = shlex.split(line)
    return [sys.executable if words[0] == "python" else words[0], *words[1:]]


def readme_command(blocks: dict[str, str], block: str, startswith: str) -> list[str]:
    """Return the README's command line in ``block`` that begins with ``startswith``."""
    for line in blocks[block].splitlines():
        if line.startswith(startswith):
            return argv(line)
    raise AssertionError(f"README's install:{block} block has no {startswith!r} line")


def follow_readme(tmp_path: Path) -> tuple[NewProject, dict[str, str]]:
    """Install, startproject, the four edits, migrate and createsuperuser, as the README says."""
    require("Redis", redis_problem())
    blocks = readme_blocks()
    wheel = build_wheel(tmp_path / "build")
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--target", str(site), str(wheel)], check=True, timeout=120)

    project = NewProject(tmp_path, site)
    package = project.dir / "mysite"
    with open(package / "settings.py", "a") as settings:  # "add at the end"
        settings.write("\n" + blocks["settings"])
    (package / "asgi.py").write_text(blocks["asgi"])  # "replace the file"
    with open(package / "urls.py", "a") as urls:  # "add at the end"
        urls.write("\n" + blocks["urls"])
    (project.dir / "templates").mkdir()  # "create it next to manage.py"
    (project.dir / "templates" / "base.html").write_text(blocks["template"])

    installed = project.run(
        sys.executable, "-c", "import notifications; print(notifications.__file__)"
    )
    assert installed.strip().startswith(str(site)), installed
    project.run(*readme_command(blocks, "run", "python manage.py migrate"))
    # The prompts of createsuperuser, answered the way Django offers for scripts.
    project.run(
        *readme_command(blocks, "run", "python manage.py createsuperuser"),
        "--noinput",
        env={
            "DJANGO_SUPERUSER_USERNAME": LOGIN,
            "DJANGO_SUPERUSER_EMAIL": "first@example.com",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        },
    )
    return project, blocks


def send_command(blocks: dict[str, str]) -> list[str]:
    [line] = blocks["send"].strip().splitlines()
    assert '"YOU"' in line
    return argv(line.replace('"YOU"', json.dumps(LOGIN)))


class Server:
    """The README's server command on a free port, with its output kept for failures."""

    def __init__(self, command: list[str], project: NewProject) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project.dir / f"server-{self.port}.log"
        if "runserver" in command:
            command = [*command, f"127.0.0.1:{self.port}", "--noreload"]
        else:  # python -m daphne mysite.asgi:application
            command = [*command[:3], "-b", "127.0.0.1", "-p", str(self.port), *command[3:]]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command,
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


def admin_login(base_url: str) -> tuple[urllib.request.OpenerDirector, CookieJar]:
    """Log in on the admin's login page, as the home page's redirect asks a person to."""
    jar = CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
    )
    with opener.open(base_url + "/", timeout=10) as response:  # redirected to the login page
        assert urllib.parse.urlsplit(response.url).path == "/admin/login/", response.url
        form = response.read().decode()
        login_url = response.url
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": LOGIN, "password": PASSWORD, "next": "/"}
    ).encode()
    request = urllib.request.Request(login_url, data=data, headers={"Referer": login_url})
    with opener.open(request, timeout=10) as response:
        assert urllib.parse.urlsplit(response.url).path == "/", response.url
    return opener, jar


@pytest.mark.timeout(240)
def test_new_project_receives_a_notification_by_following_the_readme(tmp_path):
    project, blocks = follow_readme(tmp_path)
    # The README's set-up passes every check, ours included, even as warnings, and
    # this Django's startproject settings ask for no new migration of the app.
    project.manage("check", "--fail-level", "WARNING")
    project.manage("makemigrations", "--check", "--dry-run")

    server = Server(readme_command(blocks, "run", "python manage.py runserver"), project)
    try:
        opener, jar = admin_login(server.url)
        with opener.open(server.url + "/", timeout=10) as response:
            page = response.read().decode()
        assert "<h1>Hello, firstuser</h1>" in page
        script = re.search(r'<script[^>]+src="([^"]+notifications\.js)"[^>]*>', page)
        assert script, f"no notifications script on the page:\n{page}"
        with opener.open(server.url + script[1], timeout=10) as response:
            assert response.status == 200
        socket_path = re.search(r'data-socket-path="([^"]+)"', script[0])[1]
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)

        with connect(
            f"ws://127.0.0.1:{server.port}{socket_path}",
            origin=server.url,
            additional_headers={"Cookie": cookie},
            proxy=None,
            open_timeout=10,
        ) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "state"
            project.run(*send_command(blocks))
            frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "notification.created"
        assert frame["notification"]["message"] == "Hello!"
        assert frame["unread_count"] == 1
        # The history page extends the project's base template.
        with opener.open(server.url + "/notifications/", timeout=10) as response:
            history = response.read().decode()
        assert "<title>" in history and "All notifications</a></header>" in history
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()


@pytest.mark.timeout(240)
def test_python_m_daphne_with_the_readmes_asgi_serves_static_files(tmp_path):
    """The README's development command, ``python -m daphne mysite.asgi:application``."""
    project, _ = follow_readme(tmp_path)
    command = argv("python -m daphne mysite.asgi:application")
    assert "python -m daphne yourproject.asgi:application" in README.read_text()
    server = Server(command, project)
    try:
        opener, _ = admin_login(server.url)
        with opener.open(server.url + "/static/notifications/notifications.js") as response:
            assert response.status == 200
            assert "text/javascript" in response.headers["Content-Type"]
        with opener.open(server.url + "/static/notifications/notifications.css") as response:
            assert response.status == 200
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()


@pytest.mark.timeout(240)
def test_a_project_app_named_notifications_coexists_under_another_label(tmp_path):
    """The README's way out for a project that has its own ``notifications`` app."""
    project, _ = follow_readme(tmp_path)
    app = project.dir / "mysite" / "notifications"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    readme = README.read_text()
    apps_block = re.search(r"```python\n(# mysite/notifications/apps\.py.*?)```", readme, re.S)[1]
    (app / "apps.py").write_text(apps_block)
    (app / "models.py").write_text(
        "from django.db import models\n\n\n"
        "class Notification(models.Model):\n    text = models.TextField()\n"
    )
    with open(project.dir / "mysite" / "settings.py", "a") as settings:
        settings.write('\nINSTALLED_APPS += ["mysite.notifications"]\n')
    project.manage("makemigrations", "mysite_notifications")
    project.manage("migrate")
    project.manage("check", "--fail-level", "WARNING")
    tables = project.manage(
        "shell",
        "-c",
        "from django.db import connection; print(connection.introspection.table_names())",
    )
    assert "'mysite_notifications_notification'" in tables
    assert "'notifications_notification'" in tables

    # Without the label: Django's own start-up error names the clash.
    (app / "apps.py").write_text(apps_block.replace('label = "mysite_notifications"', "pass"))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project.dir,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Application labels aren't unique, duplicates: notifications" in result.stderr
