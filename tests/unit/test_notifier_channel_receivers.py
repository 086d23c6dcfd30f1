"""Every channel kind against a real receiver on loopback: the chat robots' fixed hosts
(oapi.dingtalk.com, …) resolve, through the egress guard, to a local HTTPS server with a
certificate for that name from a test CA, so Apprise's own integration sends the exact body
the robot expects and TLS is verified; e-mail goes to a real SMTP server with STARTTLS; SMS
to a local SMSEagle gateway. Failures answer whether trying again could help, tokens never
reach the log or the outcome."""
from __future__ import annotations

import asyncio
import io
import json
import re
import logging
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email import message_from_bytes, policy

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from services.notifier.channels.apprise_channel import AppriseChannel
from services.notifier.channels.base import Notification, Target
from services.notifier.channels.egress import EgressPolicy
from services.notifier.channels.lanes import Lanes, Senders
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.thread_egress import Guard
from services.notifier.domain import ChannelKind, ErrorClass
from services.notifier.messages import render
from tests.receivers import HttpReceiver, make_ca

SENT_AT = datetime(2026, 11, 5, 8, 30, tzinfo=timezone.utc)
ROBOT_HOSTS = ["oapi.dingtalk.com", "open.feishu.cn", "open.larksuite.com",
               "qyapi.weixin.qq.com", "hooks.slack.com", "teams.example.com", "mail.example.com"]
LOOPBACK = EgressPolicy.parse("127.0.0.1/32")
PERSON = {"handle": "li.lei", "name": "Li Lei", "language": "zh", "medium": "chat",
          "address": "li.lei"}


def notification(recipient: dict | None = None, folded: tuple = (),
                 ack_url: str | None = None) -> Notification:
    return Notification(
        delivery_id="d-1", attempt=1, reason="incident.opened",
        incident={"incident_id": "inc-1", "ref": "P0-2026-11-001", "severity": "P0",
                  "title": "数据库宕机 db down", "entity": "db-1"},
        occurred_at=SENT_AT, recipient=recipient, folded=folded, ack_url=ack_url)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"), ROBOT_HOSTS)


@pytest.fixture
async def robot(ca, monkeypatch):
    """A local HTTPS server standing in for every robot's host; requests (in Apprise's
    threads) trusts the test CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.ca_file))
    receiver = await HttpReceiver().start(ca.server_context())
    yield receiver
    await receiver.stop()


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(4, thread_name_prefix="apprise-test") as threads:
        yield threads


def local(port: int, policy: EgressPolicy = LOOPBACK) -> Guard:
    """The guard with a resolver sending every host to the local receiver."""
    return Guard(policy, resolve=lambda host, _: [("127.0.0.1", port)])


async def send(kind: ChannelKind, url: str, guard: Guard, pool, recipient=PERSON, **n):
    channel = AppriseChannel(kind, pool, guard, timeout=5)
    return await channel.send(Target(kind=str(kind), url=url, secret=""),
                              notification(recipient, **n), SENT_AT)


def bare(text: str) -> str:
    return "\n".join(line.strip() for line in re.sub(r"[*#]", "", text).splitlines())


def rendered(medium: str = "chat"):
    return render(notification(PERSON), medium, "zh", now=SENT_AT)


async def test_dingtalk_gets_its_markdown_message_at_its_robot_path(robot, pool):
    outcome = await send(ChannelKind.DINGTALK, "dingtalk://t0ken1234/", local(robot.port), pool)

    assert outcome.delivered, outcome
    [got] = robot.received
    assert (got.host.split(":")[0], got.path) == ("oapi.dingtalk.com", "/robot/send")
    assert got.query == {"access_token": "t0ken1234"}
    message = rendered()
    assert json.loads(got.body) == {
        "msgtype": "markdown", "at": {"atMobiles": [], "isAtAll": False},
        "markdown": {"title": message.subject,
                     "text": f"# {message.subject}\n{message.markdown}"}}


@pytest.mark.parametrize(("url", "host", "path"), [
    ("feishu://t0ken1234", "open.feishu.cn", "/open-apis/bot/v2/hook/t0ken1234/"),
    ("lark://t0ken1234", "open.larksuite.com", "/open-apis/bot/v2/hook/t0ken1234"),
])
async def test_feishu_and_lark_get_an_interactive_card_with_the_markdown(robot, pool, url, host,
                                                                         path):
    outcome = await send(ChannelKind.FEISHU, url, local(robot.port), pool)

    assert outcome.delivered, outcome
    [got] = robot.received
    assert (got.host.split(":")[0], got.path) == (host, path)
    message = rendered()
    card = json.loads(got.body)
    assert card["msg_type"] == "interactive"
    assert card["card"]["header"]["title"] == {"tag": "plain_text", "content": message.subject}
    assert card["card"]["elements"] == [
        {"tag": "div", "text": {"tag": "lark_md", "content": message.markdown}}]


async def test_wecom_gets_the_plain_text_its_robot_takes(robot, pool):
    outcome = await send(ChannelKind.WECOM, "wecombot://k3y1234", local(robot.port), pool)

    assert outcome.delivered, outcome
    [got] = robot.received
    assert (got.host.split(":")[0], got.path, got.query) == (
        "qyapi.weixin.qq.com", "/cgi-bin/webhook/send", {"key": "k3y1234"})
    assert json.loads(got.body) == {"msgtype": "text", "text": {"content": rendered().text}}


async def test_slack_gets_an_attachment_with_its_mrkdwn_and_no_third_party_icon(robot, pool):
    robot.answer = "ok"  # what Slack's incoming webhooks answer
    outcome = await send(ChannelKind.SLACK, "slack://T1234/B5678/abcdefghijklmnopqrstuvwx",
                         local(robot.port), pool)

    assert outcome.delivered, outcome
    [got] = robot.received
    assert (got.host.split(":")[0], got.path) == (
        "hooks.slack.com", "/services/T1234/B5678/abcdefghijklmnopqrstuvwx")
    body = json.loads(got.body)
    message = rendered()
    assert body["mrkdwn"] is True and "icon_url" not in body
    [attachment] = body["attachments"]
    assert attachment["title"] == message.subject
    # Apprise turns markdown into Slack's mrkdwn (### and ** become *): the words stay.
    assert bare(attachment["text"]) == bare(message.markdown)
    assert "footer_icon" not in attachment


async def test_teams_gets_an_adaptive_card_through_its_workflow_url(robot, pool):
    outcome = await send(ChannelKind.TEAMS, "workflows://teams.example.com:443/wf123/s1g",
                         local(robot.port), pool)

    assert outcome.delivered, outcome
    [got] = robot.received
    assert got.path == "/workflows/wf123/triggers/manual/paths/invoke"
    assert got.query["sig"] == "s1g"
    [attachment] = json.loads(got.body)["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    message = rendered()
    assert [(b["id"], b["text"]) for b in attachment["content"]["body"]] == [
        ("title", message.subject), ("body", message.markdown)]


async def test_sms_goes_through_the_gateway_to_the_persons_number_as_text(pool):
    gateway = await HttpReceiver(answer='{"result": {"message_id": "1", "status": "ok"}}').start()
    try:
        person = {**PERSON, "medium": "sms", "address": "+8613800000000"}
        outcome = await send(ChannelKind.SMS, f"smseagle://t0ken@127.0.0.1:{gateway.port}/",
                             local(gateway.port), pool, recipient=person)
    finally:
        await gateway.stop()

    assert outcome.delivered, outcome
    [got] = gateway.received
    sent = json.dumps(json.loads(got.body), ensure_ascii=False)
    assert "+8613800000000" in sent and json.dumps(rendered("sms").text,
                                                   ensure_ascii=False)[1:-1] in sent


async def test_a_folded_message_lists_what_was_held_back(robot, pool):
    held = ({"id": "d-2", "ref": "P1-2026-11-002", "title": "disk full", "reason": "incident.opened"},)
    outcome = await send(ChannelKind.WECOM, "wecombot://k3y1234", local(robot.port), pool,
                         folded=held)

    assert outcome.delivered
    content = json.loads(robot.received[0].body)["text"]["content"]
    assert "另有 1 条消息" in content and "- P1-2026-11-002 disk full (incident.opened)" in content


async def test_a_page_carries_its_one_click_acknowledge_link(robot, pool):
    link = "https://closedloop.example.com/v1/ack/t0k"
    outcome = await send(ChannelKind.WECOM, "wecombot://k3y1234", local(robot.port), pool,
                         ack_url=link)

    assert outcome.delivered
    assert json.loads(robot.received[0].body)["text"]["content"] == render(
        notification(PERSON, ack_url=link), "chat", "zh", ack_url=link, now=SENT_AT).text


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (400, False),
                                                   (404, False)])
async def test_an_error_status_says_whether_trying_again_could_help(robot, pool, status,
                                                                    retryable):
    robot.status = status
    outcome = await send(ChannelKind.DINGTALK, "dingtalk://t0ken1234/", local(robot.port), pool)

    assert not outcome.delivered
    assert (outcome.status_code, outcome.retryable, outcome.error_class) == (
        status, retryable, ErrorClass.HTTP_STATUS)
    assert "t0ken1234" not in outcome.error


async def test_lark_answering_an_error_status_is_judged_by_the_status_kept_on_its_thread(
        robot, pool):
    robot.status = 429  # Apprise's Lark warning does not say "error=429" as the others do
    outcome = await send(ChannelKind.FEISHU, "lark://t0ken1234", local(robot.port), pool)

    assert (outcome.delivered, outcome.status_code, outcome.retryable, outcome.error_class) == (
        False, 429, True, ErrorClass.HTTP_STATUS)


# -- a robot's refusal inside a 200 answer -------------------------------------------------------

@pytest.mark.parametrize(("kind", "url", "answer", "named", "retryable"), [
    # DingTalk's security settings: a keyword missing, a signature not matching.
    (ChannelKind.DINGTALK, "dingtalk://t0ken1234/",
     {"errcode": 310000, "errmsg": "keywords not in content"}, "errcode 310000", False),
    (ChannelKind.DINGTALK, "dingtalk://SECs1gn1ng@t0ken1234/",
     {"errcode": 310000, "errmsg": "sign not match"}, "errcode 310000", False),
    (ChannelKind.DINGTALK, "dingtalk://t0ken1234/",
     {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
     "errcode 130101", True),
    (ChannelKind.DINGTALK, "dingtalk://t0ken1234/",
     {"errcode": 410100, "errmsg": "send too fast"}, "errcode 410100", True),
    (ChannelKind.WECOM, "wecombot://k3y1234", {"errcode": 93000, "errmsg": "invalid webhook url"},
     "errcode 93000", False),
    (ChannelKind.WECOM, "wecombot://k3y1234",
     {"errcode": 45009, "errmsg": "api freq out of limit"}, "errcode 45009", True),
    (ChannelKind.FEISHU, "feishu://t0ken1234",
     {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
     "code 19021", False),
    (ChannelKind.FEISHU, "lark://t0ken1234", {"code": 11232, "msg": "frequency limited"},
     "code 11232", True),
    (ChannelKind.FEISHU, "feishu://t0ken1234",
     {"StatusCode": 19024, "StatusMessage": "Key Words Not Found"}, "StatusCode 19024", False),
    # The `apprise` kind takes any URL; a robot's is still read as that robot's.
    (ChannelKind.APPRISE, "dingtalk://t0ken1234/",
     {"errcode": 310000, "errmsg": "ip not in whitelist"}, "errcode 310000", False),
])
async def test_a_robot_refusing_in_a_200_answer_is_a_failure_naming_its_code(
        robot, pool, kind, url, answer, named, retryable):
    robot.answer = json.dumps(answer)
    outcome = await send(kind, url, local(robot.port), pool)

    assert len(robot.received) == 1  # it was sent, once, and answered
    assert (outcome.delivered, outcome.retryable, outcome.error_class, outcome.status_code) == (
        False, retryable, ErrorClass.REFUSED_BY_ROBOT, 200)
    said = list(answer.values())[1]
    # The code and the robot's own words, for whoever fixes the channel.
    assert named in outcome.error and said in outcome.error


@pytest.mark.parametrize(("kind", "url", "answer"), [
    (ChannelKind.DINGTALK, "dingtalk://t0ken1234/", {"errcode": 0, "errmsg": "ok"}),
    (ChannelKind.WECOM, "wecombot://k3y1234", {"errcode": 0, "errmsg": "ok"}),
    (ChannelKind.FEISHU, "feishu://t0ken1234", {"code": 0, "msg": "success", "data": {}}),
    (ChannelKind.FEISHU, "lark://t0ken1234",
     {"StatusCode": 0, "StatusMessage": "success", "code": 0, "msg": "success"}),
])
async def test_a_robot_answering_code_0_has_the_message_delivered(robot, pool, kind, url, answer):
    robot.answer = json.dumps(answer)
    outcome = await send(kind, url, local(robot.port), pool)

    assert (outcome.delivered, outcome.status_code, outcome.error) == (True, 200, None)


async def test_a_robot_echoing_its_token_has_it_kept_out_of_the_outcome_and_the_log(
        robot, pool, service_log):
    robot.answer = json.dumps({"errcode": 300001, "errmsg": "token s3cr3ttoken is not exist "
                                                            "(secret SECs1gn1ngk3y)\n"})
    outcome = await send(ChannelKind.DINGTALK, "dingtalk://SECs1gn1ngk3y@s3cr3ttoken/",
                         local(robot.port), pool)

    assert (outcome.delivered, outcome.error_class) == (False, ErrorClass.REFUSED_BY_ROBOT)
    assert "errcode 300001" in outcome.error and "is not exist" in outcome.error
    for text in (outcome.error, service_log.getvalue()):
        assert "s3cr3ttoken" not in text and "SECs1gn1ngk3y" not in text


async def test_only_the_start_of_an_answer_is_kept(robot, pool):
    from services.notifier.channels.thread_egress import ANSWER_BYTES, guarded

    robot.answer = json.dumps({"errcode": 0, "errmsg": "ok", "padding": "x" * (4 * ANSWER_BYTES)})
    channel = AppriseChannel(ChannelKind.WECOM, pool, local(robot.port), timeout=5)
    sent, seen = await asyncio.get_running_loop().run_in_executor(
        pool, channel._send, "wecombot://k3y1234", "", "text", "text")

    assert sent is True
    [answer] = seen.answers
    assert answer.status == 200 and answer.head == robot.answer.encode()[:ANSWER_BYTES]
    with guarded(local(robot.port)) as unused:  # a new send starts with nothing seen
        assert unused.answers == []


async def test_an_internal_destination_is_refused_before_anything_is_sent(robot, pool):
    outcome = await send(ChannelKind.DINGTALK, "dingtalk://t0ken1234/",
                         local(robot.port, EgressPolicy()), pool)

    assert (outcome.delivered, outcome.retryable, outcome.error_class) == (
        False, False, ErrorClass.DESTINATION_REFUSED)
    assert "oapi.dingtalk.com resolves to 127.0.0.1" in outcome.error
    assert robot.received == []


async def test_an_unreachable_service_is_worth_trying_again(pool):
    closed = await HttpReceiver().start()
    port = closed.port
    await closed.stop()  # nothing listens there any more
    outcome = await send(ChannelKind.WECOM, "wecombot://k3y1234", local(port), pool)

    assert (outcome.delivered, outcome.retryable, outcome.error_class) == (
        False, True, ErrorClass.NETWORK)


@pytest.fixture
def service_log():
    """What the service's log handlers (on the root logger) are given, at DEBUG."""
    written = io.StringIO()
    handler, root = logging.StreamHandler(written), logging.getLogger()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(handler)
    yield written
    root.removeHandler(handler)
    root.setLevel(level)


async def test_tokens_never_reach_the_log_or_the_outcome(robot, pool, service_log):
    robot.status = 500
    outcome = await send(ChannelKind.DINGTALK, "dingtalk://s3cr3ttoken/", local(robot.port), pool)
    unreadable = await send(ChannelKind.WECOM, "wecombot://bad key s3cr3tkey", local(robot.port),
                            pool)

    assert not outcome.delivered and not unreadable.delivered
    assert unreadable.error_class == ErrorClass.REJECTED and not unreadable.retryable
    logging.getLogger("services.notifier").debug("control")  # the handler does write
    assert "control" in service_log.getvalue()
    for text in (service_log.getvalue(), outcome.error, unreadable.error):
        assert "s3cr3ttoken" not in text and "s3cr3tkey" not in text


# -- e-mail ------------------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def accept_alerts(server, session, envelope, mechanism, auth_data):
    """aiosmtpd's authenticator: the one login the tests' server knows."""
    from aiosmtpd.smtp import AuthResult

    ok = (auth_data.login, auth_data.password) == (b"alerts", b"p4ss w0rd")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


@pytest.fixture
def smtp_server(ca):
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            tls_context=ca.server_context(), require_starttls=True,
                            authenticator=accept_alerts, auth_require_tls=True)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_email_is_sent_over_starttls_as_text_and_html_alternatives(ca, smtp_server):
    inbox, port = smtp_server

    async def resolve(host, _):
        return [("127.0.0.1", port)]

    channel = EmailChannel(LOOPBACK, ca.client_context(), timeout=5, resolve=resolve)
    person = {**PERSON, "medium": "email", "address": "li.lei@example.com"}
    outcome = await channel.send(
        Target(kind="email", url=f"smtp://mail.example.com:{port}/?from=alerts@example.com",
               secret=""), notification(person), SENT_AT)

    assert outcome.delivered, outcome
    [(to, raw)] = inbox.messages
    mail = message_from_bytes(raw, policy=policy.default)
    message = render(notification(person), "email", "zh", now=SENT_AT)
    assert to == ["li.lei@example.com"] and mail["From"] == "alerts@example.com"
    assert mail["Subject"] == message.subject
    assert mail.get_content_type() == "multipart/alternative"
    def part(kind: str) -> str:  # as written, less SMTP's CRLF line ends
        return mail.get_body((kind,)).get_content().replace("\r\n", "\n").strip()

    assert part("plain") == message.text.strip() and part("html") == message.html.strip()


@pytest.mark.parametrize(("password", "delivered", "retryable"), [
    ("p4ss%20w0rd", True, None), ("wrong", False, False)])
async def test_email_logs_in_after_starttls_and_a_refused_login_is_final(
        ca, smtp_server, password, delivered, retryable):
    inbox, port = smtp_server

    async def resolve(host, _):
        return [("127.0.0.1", port)]

    channel = EmailChannel(LOOPBACK, ca.client_context(), timeout=5, resolve=resolve)
    url = (f"smtp://alerts:{password}@mail.example.com:{port}/"
           "?from=alerts@example.com&to=ops@example.com")
    outcome = await channel.send(Target(kind="email", url=url, secret=""), notification(),
                                 SENT_AT)

    assert outcome.delivered is delivered and len(inbox.messages) == int(delivered)
    if not delivered:
        assert (outcome.retryable, outcome.status_code) == (retryable, 535)
        assert password not in outcome.error


async def test_email_refuses_a_server_whose_certificate_is_not_trusted(smtp_server):
    inbox, port = smtp_server

    async def resolve(host, _):
        return [("127.0.0.1", port)]

    channel = EmailChannel(LOOPBACK, ssl.create_default_context(), timeout=5, resolve=resolve)
    outcome = await channel.send(
        Target(kind="email", url=f"smtp://mail.example.com:{port}/?from=a@example.com&to=b@example.com",
               secret=""), notification(), SENT_AT)

    assert not outcome.delivered and not outcome.retryable and inbox.messages == []


async def test_email_to_an_internal_server_is_refused_unless_allowed(smtp_server, ca):
    inbox, port = smtp_server

    async def resolve(host, _):
        return [("127.0.0.1", port)]

    channel = EmailChannel(EgressPolicy(), ca.client_context(), timeout=5, resolve=resolve)
    outcome = await channel.send(
        Target(kind="email", url="smtps://mail.example.com/?from=a@example.com&to=b@example.com",
               secret=""), notification(), SENT_AT)

    assert outcome.error_class == ErrorClass.DESTINATION_REFUSED and inbox.messages == []


# -- lanes -------------------------------------------------------------------------------------

async def test_a_slow_robot_holds_only_its_own_lanes_never_the_others(ca, robot):
    robot.hold = {"sl0w"}
    lanes = Lanes(Senders(session=aiohttp.ClientSession(), policy=LOOPBACK,
                          tls_context=ca.client_context(), timeout=5, apprise_threads=4,
                          guard=local(robot.port)), per_channel=32)
    assert lanes.lanes_for(ChannelKind.WECOM) == 1  # a quarter of the threads

    async def send_via(channel_id: str, key: str):
        async with lanes.lane(channel_id, ChannelKind.WECOM) as integrations:
            return await integrations[ChannelKind.WECOM].send(
                Target(kind="wecom", url=f"wecombot://{key}", secret=""), notification(),
                SENT_AT)

    try:
        slow = [asyncio.create_task(send_via("slow", "sl0w")) for _ in range(3)]
        fast = [await send_via("fast", "f4st") for _ in range(3)]  # while the slow one hangs

        assert all(outcome.delivered for outcome in fast)
        assert [r.query["key"] for r in robot.received].count("sl0w") == 1  # one lane only
        robot.release.set()
        assert all(outcome.delivered for outcome in await asyncio.gather(*slow))
    finally:
        robot.release.set()
        await lanes.aclose()
