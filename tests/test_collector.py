"""The garbage-collector policy of socket servers (notifications/collector.py)."""

import gc

import pytest

from notifications.collector import Collector


@pytest.fixture
def collector(settings):
    settings.NOTIFICATIONS = {"GC_TUNING": True}
    thresholds = gc.get_threshold()
    c = Collector()
    c.start()
    yield c
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_freezes_the_heap_and_raises_the_young_threshold(collector):
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] >= 20_000


def test_settled_sockets_are_frozen_every_hundred_opens(collector):
    garbage_holders = []
    for _ in range(99):
        collector.opened()
        garbage_holders.append({"socket": [object()]})  # Tracked objects of a "socket".
    frozen = gc.get_freeze_count()
    collector.opened()
    assert gc.get_freeze_count() > frozen
    assert collector.opened_unfrozen == 0


def test_churn_brings_one_full_collection_at_a_quiet_moment(collector, monkeypatch):
    import notifications.collector as module

    for _ in range(400):
        collector.opened()
    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    for _ in range(250):
        collector.closed()
    collector.busy()
    collector.tick()
    assert collector.full_collections == 0  # A delivery just happened: wait.
    clock[0] += 2
    collector.tick()
    assert collector.full_collections == 1
    assert collector.closed_since_full == 0
    collector.tick()
    assert collector.full_collections == 1  # Not again until more churn.


def test_without_gc_tuning_nothing_changes(settings):
    settings.NOTIFICATIONS = {"GC_TUNING": False}
    thresholds = gc.get_threshold()
    c = Collector()
    c.start()
    for _ in range(300):
        c.opened()
    c.tick()
    assert gc.get_threshold() == thresholds and not c.enabled
