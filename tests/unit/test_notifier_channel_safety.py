"""Channel safety without I/O: which addresses the egress policy refuses, that the guarded
connection layer connects only to the addresses it checked, sealing, and the channel's
edit, disable and rotation rules."""
from __future__ import annotations

import asyncio
import ssl
from datetime import timedelta

import aiohttp
import pytest
from cryptography.fernet import Fernet

from services.notifier.channels.egress import DestinationRefused, EgressPolicy
from services.notifier.channels.transport import guarded_session
from services.notifier.app import NotifierApplication
from services.notifier.domain import AttemptRefused, Delivery, DeliveryStatus, InvalidChannel
from services.notifier.sealing import Sealer, SealingError
from shared.clock import ManualClock
from shared.store import Tracking
from tests.unit.test_notifier_domain import (
    CAUSE, SEALER, T0, new_delivery, opened, register, setup_routing,
)

NO_ALLOW_LIST = EgressPolicy()


@pytest.mark.parametrize(("address", "what"), [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("100.64.0.1", "CGNAT"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a01:203", "private"), ("2002:7f00:1::", "loopback"),
    ("240.0.0.1", "reserved"), ("192.0.2.1", "private"),
])
def test_internal_addresses_are_refused_by_default_and_the_refusal_names_the_class(
        address, what):
    why = NO_ALLOW_LIST.refusal(address)
    assert why is not None and what in why and "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS" in why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert NO_ALLOW_LIST.refusal(address) is None


def test_the_allow_list_admits_its_networks_and_host_names_and_nothing_else():
    policy = EgressPolicy.parse("127.0.0.1/32, 10.0.0.0/8, hooks.corp.example")
    assert policy.refusal("127.0.0.1") is None and policy.refusal("10.9.9.9") is None
    assert policy.refusal("::ffff:10.1.1.1") is None
    assert policy.refusal("127.0.0.2") is not None and policy.refusal("169.254.169.254")
    policy.check_resolved("hooks.corp.example", ["192.168.7.7"])  # on-premises by name
    with pytest.raises(DestinationRefused, match="other.example resolves to 192.168.7.7"):
        policy.check_resolved("other.example", ["93.184.216.34", "192.168.7.7"])
    with pytest.raises(ValueError, match="CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS"):
        EgressPolicy.parse("10.0.0.0/8,not a host!")


def test_only_ip_literals_are_judged_when_a_channel_is_defined():
    assert "private" in NO_ALLOW_LIST.literal_refusal("http://10.1.2.3/x")
    assert "loopback" in NO_ALLOW_LIST.literal_refusal("http://[::1]:8080/x")
    assert NO_ALLOW_LIST.literal_refusal("https://localhost/x") is None  # checked at send
    for shorthand in ("127.1", "2130706433", "0x7f.0.0.1"):  # loopback, as C reads them
        assert "shorthand" in NO_ALLOW_LIST.literal_refusal(f"http://{shorthand}/x")


def send_recording_connects(policy: EgressPolicy, url: str) -> list[str]:
    """POST through the guarded session; the addresses it tried to connect to (a socket
    factory records them and opens nothing)."""
    connected: list[str] = []

    def record(addr_info):
        connected.append(addr_info[4][0])
        raise OSError("recorded only")

    async def send() -> None:
        async with guarded_session(policy, 2, ssl.create_default_context(),
                                   socket_factory=record) as session:
            async with session.post(url, data=b"{}", allow_redirects=False):
                pass

    with pytest.raises((aiohttp.ClientConnectionError, DestinationRefused)) as raised:
        asyncio.run(send())
    connected.append(raised.type.__name__)
    return connected


def test_the_guard_connects_to_the_addresses_it_checked_never_to_the_name_again():
    *connected, error = send_recording_connects(EgressPolicy.parse("127.0.0.1/32,::1/128"),
                                                "http://localhost:9/hook")
    assert error != "DestinationRefused"
    assert connected and "localhost" not in connected
    assert set(connected) <= {"127.0.0.1", "::1"}


def test_the_guard_refuses_before_connecting():
    for host in ("localhost", "127.0.0.1", "[::1]", "169.254.169.254"):
        assert send_recording_connects(NO_ALLOW_LIST, f"http://{host}:80/") == [
            "DestinationRefused"]


def test_sealed_values_open_with_any_listed_key_and_seal_with_the_first():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = Sealer(old).seal("s3cret-s3cret-s3cret")
    assert sealed.startswith("fernet:") and "s3cret" not in sealed
    assert Sealer(f"{new},{old}").open(sealed) == "s3cret-s3cret-s3cret"
    with pytest.raises(SealingError, match="no longer lists"):
        Sealer(new).open(sealed)
    with pytest.raises(SealingError, match="CLOSEDLOOP_NOTIFIER_SECRETS_KEY is not set"):
        Sealer("").seal("s3cret-s3cret-s3cret")
    assert Sealer(new).open("plain-before-sealing") == "plain-before-sealing"


def test_the_notifier_refuses_to_start_without_a_secrets_key():
    from services.notifier.main import create_app
    from services.notifier.settings import NotifierSettings

    with pytest.raises(SealingError, match="CLOSEDLOOP_NOTIFIER_SECRETS_KEY is not set"):
        create_app(NotifierSettings(secrets_key=""))


def test_a_channel_keeps_only_sealed_secrets_and_header_values():
    channel = register()
    assert SEALER.open(channel.secret) == "s3cret-s3cret-s3cret"
    assert "Bearer x" not in str(channel.headers)
    assert SEALER.open_headers(channel.headers) == {"Authorization": "Bearer x"}


@pytest.mark.parametrize("headers", [
    {"Host": "internal"}, {"Transfer-Encoding": "chunked"}, {"Content-Length": "1"},
    {"X-Closedloop-Signature-Previous": "forged"}, {"Bad Name": "x"},
    {"X-Ok": "split\r\nInjected: yes"},
])
def test_headers_that_could_forge_or_smuggle_are_refused(headers):
    with pytest.raises(InvalidChannel) as refused:
        register(headers=headers)
    assert refused.value.field == "headers"


def test_a_channel_is_edited_disabled_enabled_and_its_secret_rotated_with_a_grace_window():
    channel = register()
    assert channel.update(name="oncall", url=None, headers=None, seal=SEALER.seal, at=T0,
                          actor="mia", cause=CAUSE) is False  # nothing changes, no event
    channel.update(name="oncall-eu", url="https://eu.hooks.example/x", headers=None,
                   seal=SEALER.seal, at=T0, actor="mia", cause=CAUSE)
    assert channel.disable("maintenance", T0, "mia", CAUSE) and not channel.enabled
    assert channel.disable("again", T0, "mia", CAUSE) is False
    assert channel.enable(T0, "mia", CAUSE) and channel.enabled
    old = channel.secret
    channel.rotate_secret("n3w-s3cret-n3w-s3cret", timedelta(minutes=5), SEALER.seal, T0,
                          "mia", CAUSE)
    assert SEALER.open(channel.secret) == "n3w-s3cret-n3w-s3cret"
    assert channel.previous_secret_at(T0 + timedelta(minutes=4)) == old
    assert channel.previous_secret_at(T0 + timedelta(minutes=5)) is None
    with pytest.raises(InvalidChannel) as refused:
        channel.rotate_secret("n3w-s3cret-n3w-s3cret", timedelta(days=8), SEALER.seal, T0,
                              "mia", CAUSE)
    assert refused.value.field == "grace_seconds"
    assert [type(e).__name__ for e in channel.collect_events()] == [
        "Registered", "Updated", "Disabled", "Enabled", "SecretRotated"]


def test_a_skipped_delivery_is_final_and_says_why():
    delivery = new_delivery()
    delivery.skip("channel oncall is disabled: maintenance", T0, "notifier", CAUSE)
    assert delivery.status is DeliveryStatus.SKIPPED
    assert delivery.last_error_class == "channel_disabled"
    with pytest.raises(AttemptRefused):
        delivery.start_attempt(1, T0, "notifier", CAUSE)
    with pytest.raises(AttemptRefused):
        delivery.skip("twice", T0, "notifier", CAUSE)



def test_a_secret_sealed_with_a_lost_key_fails_its_delivery_with_the_reason(store_env):
    app = NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=NO_ALLOW_LIST)
    oncall, _ = setup_routing(app)
    app.handle_incident_opened(*opened("inc-lost")[:2], Tracking("INCIDENTS", 1))
    delivery_id = Delivery.create_id("inc-lost", "incident.opened", oncall)

    app.sealer = Sealer(Fernet.generate_key().decode())  # the sealing key was replaced
    assert app.start_attempt(delivery_id, 1, T0) is None

    failed = app.delivery(delivery_id)
    assert failed["status"] == "failed" and "no longer lists" in failed["last_error"]
    assert [(a["outcome"], a["retryable"]) for a in failed["history"]] == [("failed", False)]
