"""The frame builders (notifications/frames.py)."""

import pytest

from notifications import frames


@pytest.mark.parametrize(
    "notification",
    [
        {"id": 1, "cursor": 2, "title": "t", "message": "m", "data": {}},
        {"id": 1, "cursor": 2, "message": 'a\u2028b "quoted" é', "data": {"n": [1, {"x": None}]}},
    ],
)
def test_copies_are_byte_for_byte_what_encode_gives(notification):
    rows = [(10, 5, 0), (11, 1, 7), (2**40, 2**50, 3)]
    expected = [
        frames.encode(frames.created({**notification, "id": i, "cursor": c}, u)) for i, c, u in rows
    ]
    assert frames.created_copies(notification, rows) == expected


def test_frames_are_ascii_without_raw_line_breaks():
    text = frames.encode(frames.created({"id": 1, "cursor": 1, "message": "a\nb\u2028c"}, 1))
    assert text.isascii() and "\n" not in text
