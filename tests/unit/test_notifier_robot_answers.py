"""The robots' verdicts read from the start of their answers: which are refusals, which are
worth trying again, and that a robot's words never carry the channel's credentials."""
from __future__ import annotations

import json

import pytest

from services.notifier.channels.robot_answers import MESSAGE_CHARS, refusal
from services.notifier.domain import ChannelKind


def read(kind: ChannelKind, answer: object, url: str = "dingtalk://t0ken1234/"):
    return refusal(kind, json.dumps(answer).encode(), url)


@pytest.mark.parametrize(("kind", "answer"), [
    (ChannelKind.DINGTALK, {"errcode": 0, "errmsg": "ok"}),
    (ChannelKind.WECOM, {"errcode": "0", "errmsg": "ok"}),
    (ChannelKind.FEISHU, {"code": 0, "msg": "success", "StatusCode": 0}),
    (ChannelKind.FEISHU, {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}),
    (ChannelKind.DINGTALK, {"errcode": False}),  # not a code
    (ChannelKind.DINGTALK, ["errcode", 310000]),  # not the robot's object
    (ChannelKind.SLACK, {"errcode": 310000}),  # not a robot whose body is read
    (ChannelKind.WEBHOOK, {"code": 1}),
])
def test_an_accepting_or_foreign_answer_is_no_refusal(kind, answer):
    assert read(kind, answer) is None


@pytest.mark.parametrize("head", [b"ok", b"", b'{"errcode": 310000, "errmsg": "keyw',
                                  b"\xff\xfe{}"])
def test_an_answer_that_is_not_json_or_cut_at_the_bound_is_not_read(head):
    assert refusal(ChannelKind.DINGTALK, head, "dingtalk://t0ken1234/") is None


def test_a_code_written_as_a_string_is_still_a_number_and_judged_by_the_table():
    refused = read(ChannelKind.WECOM, {"errcode": "45009", "errmsg": "api freq out of limit"},
                   "wecombot://k3y1234")

    assert (refused.field, refused.code, refused.retryable) == ("errcode", 45009, True)


def test_the_robots_words_are_one_bounded_line_without_the_urls_credentials():
    url = "dingtalk://SECs1gn%2Bk3y@t0ken1234/"
    refused = read(ChannelKind.DINGTALK, {
        "errcode": 300001,
        "errmsg": "token t0ken1234 (SECs1gn+k3y)\r\nnot exist " + "x" * 500}, url)

    assert "t0ken1234" not in refused.message and "s1gn" not in refused.message
    assert "\n" not in refused.message and len(refused.message) == MESSAGE_CHARS
    assert refused.message.startswith("token **** (****) not exist")
    assert refused.describe(ChannelKind.DINGTALK).startswith(
        "the dingtalk robot refused the message: errcode 300001 (token ****")
