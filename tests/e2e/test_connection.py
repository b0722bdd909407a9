"""client/connection.js with a fake WebSocket and fake timers: when it retries, polls or stops."""

from __future__ import annotations

from pathlib import Path

import pytest

HARNESS = (Path(__file__).parent / "connection_harness.js").read_text(encoding="utf-8")
R = 0.5  # Math.random() for every delay: normal(a) = 250 + 0.5 * (min(30000, 3000 * 2**a) - 250)


def normal(attempt: int) -> int:
    return round(250 + R * (min(30000, 3000 * 2**attempt) - 250))


@pytest.fixture
def run(page, live_server_url):
    page.goto(live_server_url + "/login/")  # no client on this page

    def run_script(*steps):
        return page.evaluate(HARNESS, {"script": [list(s) for s in steps], "random": R})

    return run_script


def delays(log):
    return [entry[1] for entry in log if entry[0] == "fired"]


def test_backoff_doubles_polls_after_three_failures_and_resets_on_state(run):
    log = run(
        ("start",), ("close", 1006), ("fire",), ("close", 1006), ("fire",), ("close", 1006),
        ("fire",), ("state",), ("close", 1012), ("fire",),
    )  # fmt: skip
    assert delays(log) == [normal(0), normal(1), normal(2), normal(0)]
    assert ["polling", True] in log  # after the third failure in a row
    after_state = log[log.index(["state"]) - 3 :]
    assert ["polling", False] in after_state and ["status", "connected"] in after_state
    assert sum(1 for e in log if e[0] == "open") == 5


def test_4401_never_retries(run):
    log = run(("start",), ("state",), ("close", 4401), ("delay",))
    assert ["status", "offline"] in log
    assert log[-1] == ["delay", []]


def test_4409_waits_about_a_minute_and_polls(run):
    log = run(("start",), ("state",), ("close", 4409), ("delay",), ("retrySoon",), ("delay",))
    assert log[log.index(["polling", True]) + 1] == ["delay", [60000]]
    assert log[-1] == ["delay", [60000]]  # coming back does not cut the server's wait


def test_4429_backs_off_one_step_further(run):
    log = run(("start",), ("state",), ("close", 4429), ("fire",), ("close", 4429), ("fire",))
    assert delays(log) == [normal(1), normal(2)]


def test_4503_backs_off_and_polls(run):
    log = run(("start",), ("state",), ("close", 4503), ("fire",))
    assert ["polling", True] in log
    assert delays(log) == [normal(0)]


def test_4408_comes_back_soon(run):
    log = run(("start",), ("state",), ("close", 4408), ("fire",))
    assert delays(log) == [round(250 + R * 1000)]


def test_a_hidden_tab_keeps_its_schedule_and_a_visible_one_retries_soon(run):
    log = run(
        ("start",), ("close", 1006), ("fire",), ("close", 1006), ("fire",), ("close", 1006),
        ("delay",), ("hide",), ("retrySoon",), ("delay",), ("show",), ("retrySoon",), ("delay",),
    )  # fmt: skip
    scheduled = [e[1] for e in log if e[0] == "delay"]
    assert scheduled[0] == scheduled[1] == [normal(2)]  # hidden: nothing sooner
    assert scheduled[2] == [round(250 + R * 750)]  # visible again: within 0.25-1 s
