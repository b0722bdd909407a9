"""``manage.py daphne_workers``: what it refuses before starting anything.

(Serving through it is tests/test_integration.py's two-workers test.)
"""

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(
    "daphne_args",
    [["--websocket-max-message-size", "0"], ["--websocket-max-message-size=0"]],
)
def test_unlimited_message_size_is_refused_with_the_fix(daphne_args):
    """CFG-03: ``--websocket-max-message-size 0`` would disable Daphne's limit."""
    with pytest.raises(CommandError, match="pass --websocket-max-message-size 65536"):
        call_command("daphne_workers", "-w", "1", "-p", "1", "--", *daphne_args)
