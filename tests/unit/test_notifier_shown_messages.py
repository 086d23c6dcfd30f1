"""A delivery's message shown again is the one its channel composed: the channel kind's form
(an SMS gateway's one line, a robot's chat), the note of what the person's rate limit folded
into that attempt, rendered as of the attempt; a message not yet attempted reads as of its
scheduling."""
from __future__ import annotations

import uuid

import pytest

from services.notifier.attempts import Due
from services.notifier.domain import DeliveryNotFound
from services.notifier.shown_messages import medium_of
from tests.unit.test_notifier_channel_kinds import (  # noqa: F401 (the app fixture)
    DINGTALK, SMS, app, person_delivery, register,
)
from tests.unit.test_notifier_domain import T0, seconds


def test_each_kind_is_shown_in_the_form_it_sends():
    assert [medium_of(kind) for kind in ("webhook", "dingtalk", "wecom", "apprise", "email",
                                         "sms", "no-such-kind")] == [
        "chat", "chat", "chat", "chat", "email", "sms", "chat"]


def test_a_carrier_shows_what_the_rate_limit_folded_into_it(app):
    channel = register(app, "pager", "sms", SMS)["id"]
    ids = [person_delivery(app, f"inc-{n}", str(channel)).id for n in range(4)]
    app.claim_attempts([Due(d, "pending", 0) for d in ids], T0 + seconds(10))
    held = app.repository.get(ids[2]).next_attempt_at
    app.claim_attempts([Due(d, "retrying", 0) for d in ids[2:]], held)

    first, carrier = app.delivery_message(ids[0]), app.delivery_message(ids[2])

    assert (first["medium"], first["language"], first["person"]) == ("sms", "zh", "wu.qi")
    assert first["text"].startswith("🔴P0-inc-0") and "合并" not in first["text"]
    assert first["rendered_for"] == T0 + seconds(10)
    assert carrier["rendered_for"] == held
    assert "另有 1 条消息因发送频率限制合并于此" in carrier["text"]
    assert "- P0-inc-3 inc-3 down (incident.opened)" in carrier["text"]
    # Another form on request: the e-mail's parts, the note folded in as well.
    email = app.delivery_message(ids[2], medium="email")
    assert email["medium"] == "email" and "P0-inc-3" in email["html"]


def test_a_message_not_yet_sent_reads_as_of_its_scheduling(app):
    channel = register(app, "robot", "dingtalk", DINGTALK)["id"]
    delivery = person_delivery(app, "inc-w", str(channel))

    shown = app.delivery_message(delivery.id, public_url="https://ops.example.cn")

    assert shown["medium"] == "chat" and shown["rendered_for"] == T0
    assert "https://ops.example.cn/v1/incidents/P0-inc-w" in shown["markdown"]
    with pytest.raises(DeliveryNotFound):
        app.delivery_message(uuid.uuid4())
