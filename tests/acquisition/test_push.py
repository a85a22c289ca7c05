"""Push rendering: a creative's push form (title and body cut to a lock screen, a deep link)."""

from __future__ import annotations

import pytest
from tests.acquisition.conftest import SYSTEM

from finbridge.acquisition import FINANCE_BREAKFAST, PUSH_BODY_MAX, PUSH_TITLE_MAX
from finbridge.acquisition.creatives import push_of
from finbridge.platform import Platform


@pytest.mark.parametrize(
    ("title", "body", "want_title", "want_body"),
    [
        ("Short", "One line", "Short", "One line"),
        ("Finance breakfast", "1. a\n2.  b\n", "Finance breakfast", "1. a 2. b"),
        ("T" * 41, "B" * 121, "T" * 39 + "…", "B" * 119 + "…"),
        ("财经早餐 " * 10, "要闻" * 70, ("财经早餐 " * 8).rstrip() + "…", "要闻" * 59 + "要…"),
    ],
)
def test_push_is_cut_to_a_lock_screen(
    title: str, body: str, want_title: str, want_body: str
) -> None:
    push = push_of(title, body, "d-1")
    assert (push.title, push.body) == (want_title, want_body)
    assert len(push.title) <= PUSH_TITLE_MAX and len(push.body) <= PUSH_BODY_MAX
    assert push.deep_link == "/app/acquisition?delivery=d-1"


def test_preview_has_a_push_form(platform: Platform) -> None:
    acq = platform.acquisition
    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    title, body = acq.preview(SYSTEM, "fb", locale="en")
    push = push_of(title, body, "preview")
    assert push.title == title  # "Finance breakfast 2020-12-01" fits
    assert len(body) > PUSH_BODY_MAX and push.body.endswith("…")
    assert push.body[:-1] == " ".join(body.split())[: PUSH_BODY_MAX - 1].rstrip()
