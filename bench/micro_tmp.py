import os, sys, time

sys.argv = ["x"]
sys.path.insert(0, "/work/main/bench")
sys.path.insert(0, "/work/main")
import run
from django.test.utils import setup_databases, teardown_databases
from django.db import connection, close_old_connections

old = setup_databases(verbosity=0, interactive=False, keepdb=False)
try:
    users, cookies = run.make_users(200)
    from notifications.models import Inbox, Notification

    def t(label, fn, n=300):
        t0 = time.process_time()
        for i in range(n):
            fn(i % 200)
        print(f"{label}: {1000 * (time.process_time() - t0) / n:.3f} ms CPU")

    t("state (annotate)", lambda i: Inbox.objects.state(users[i].pk))
    t(
        "count + cursor",
        lambda i: (
            Notification.objects.filter(recipient_id=users[i].pk).unread().count(),
            Inbox.objects.filter(user_id=users[i].pk).values_list("last_cursor", flat=True).first(),
        ),
    )

    def raw(i):
        with connection.cursor() as c:
            c.execute(
                "SELECT (SELECT last_cursor FROM notifications_inbox WHERE user_id = %s), (SELECT count(*) FROM notifications_notification WHERE recipient_id = %s AND read_at IS NULL)",
                [users[i].pk, users[i].pk],
            )
            return c.fetchone()

    t("raw", raw)
    qs = Notification.objects.unread()

    def where_only(i):
        q = Notification.objects.unread().filter(recipient_id=users[i].pk).query
        comp = q.get_compiler(connection=connection)
        return comp.compile(q.where)

    t("compile where", where_only)
finally:
    from django.db import connections

    connections.close_all()
    teardown_databases(old, verbosity=0)
