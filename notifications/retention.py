"""Retention: which notifications ``notifications_cleanup`` deletes, and the batched delete.

Three kinds, each optional but the first: expired ones (hidden everywhere
already, so deleting them changes nothing a user sees), read ones older than
N days, archived ones older than N days. Deletes go in batches of
``CLEANUP_BATCH_SIZE`` rows, each batch its own short transaction that locks
only its rows (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), so the
table is never locked for long and two runs at once split the work instead
of waiting for or failing on each other. Each batch pushes
``notification.deleted`` to the owners' open tabs after it commits.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from . import conf


@dataclass(frozen=True)
class Policy:
    """What to delete: always the expired ones, and read or archived ones past an age."""

    read_older_than_days: int | None = None
    archived_older_than_days: int | None = None

    @classmethod
    def from_settings(cls) -> Policy:
        return cls(
            conf.get("CLEANUP_READ_OLDER_THAN_DAYS"), conf.get("CLEANUP_ARCHIVED_OLDER_THAN_DAYS")
        )

    def conditions(self, now: datetime.datetime | None = None) -> dict[str, Q]:
        """``{kind: condition}``, each excluding the kinds before it (so counts add up)."""
        now = now or timezone.now()
        kinds = {"expired": Q(expires_at__lte=now)}
        if self.read_older_than_days is not None:
            cutoff = now - datetime.timedelta(days=self.read_older_than_days)
            kinds["read"] = Q(read_at__lt=cutoff)
        if self.archived_older_than_days is not None:
            cutoff = now - datetime.timedelta(days=self.archived_older_than_days)
            kinds["archived"] = Q(archived_at__lt=cutoff)
        exclusive: dict[str, Q] = {}
        before = Q()
        for kind, condition in kinds.items():
            exclusive[kind] = condition & ~before if before else condition
            before = before | condition if before else condition
        return exclusive


def counts(policy: Policy, *, using: str | None = None) -> dict[str, int]:
    """How many rows each kind would delete now (one indexed count per kind)."""
    from .models import Notification

    db = using or router.db_for_write(Notification)
    return {
        kind: Notification.objects.using(db).filter(condition).count()
        for kind, condition in policy.conditions().items()
    }


def delete_batch(condition: Q, size: int, *, using: str) -> int:
    """Delete up to ``size`` rows matching ``condition`` in one transaction; return how many."""
    from .models import Notification

    skip_locked = connections[using].features.has_select_for_update_skip_locked
    with transaction.atomic(using=using):
        candidates = Notification.objects.using(using).filter(condition).order_by()
        if skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:size])
        if not ids:
            return 0
        # The QuerySet's delete: one DELETE, and notification.deleted after commit.
        deleted, _by_model = Notification.objects.using(using).filter(pk__in=ids).delete()
    return len(ids) if deleted else 0


def delete(
    policy: Policy,
    *,
    batch_size: int | None = None,
    using: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete what ``policy`` says, batch after batch; return ``{kind: rows deleted}``."""
    from .models import Notification

    db = using or router.db_for_write(Notification)
    size = batch_size or conf.get("CLEANUP_BATCH_SIZE")
    done: dict[str, int] = {}
    for kind, condition in policy.conditions().items():
        total = 0
        while True:
            deleted = delete_batch(condition, size, using=db)
            if not deleted:
                break
            total += deleted
            if progress is not None:
                progress(kind, total)
        done[kind] = total
    return done
