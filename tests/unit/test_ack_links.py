"""One-click acknowledge links: minted by the notifier, verified by the incidents service on
its own clock, used once on the incident (a read receipt even when someone acknowledged
first). Pure: the signer, the incident aggregate, and the application on in-memory storage."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import httpx
import pytest

from services.incidents.app import IncidentsApplication
from services.incidents.domain import Incident, LinkAlreadyUsed, Severity, Status
from services.incidents.domain.incident import RETRIGGER
from services.incidents.settings import IncidentsSettings
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from services.notifier.page_links import PageLinks
from shared.ack_links import AckClaims, AckLinkRefused, AckLinks, Refusal
from shared.clock import ManualClock
from shared.contracts import AlertRaised, CloudEvent, IncidentAcknowledged, IncidentPageRead
from shared.store import Tracking

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
KEY = "ack-link-key-for-the-unit-tests-0123456789"
OLD_KEY = "ack-link-key-before-the-rotation-9876543210"
CAUSE = {"correlation_id": "req-1", "causation_id": "req-1", "trace": {}}
INCIDENT, DELIVERY = str(uuid.uuid4()), str(uuid.uuid4())


def mint(links: AckLinks = AckLinks(KEY), *, incident_id: str = INCIDENT,
         person: str = "li.na", expires_at: datetime = T0 + timedelta(hours=24)) -> str:
    return links.mint(incident_id=incident_id, person=person, delivery_id=DELIVERY,
                      expires_at=expires_at)


def refusal(token: str, now: datetime = T0, links: AckLinks = AckLinks(KEY)) -> Refusal:
    with pytest.raises(AckLinkRefused) as refused:
        links.verify(token, now)
    return refused.value.reason


# -- the link --------------------------------------------------------------------------------
def test_a_link_says_who_may_acknowledge_which_incident_from_which_page_until_when():
    token = mint()
    claims = AckLinks(KEY).verify(token, T0)
    assert (claims.incident_id, claims.person, claims.delivery_id) == (INCIDENT, "li.na", DELIVERY)
    assert claims.expires_at == T0 + timedelta(hours=24)
    assert len(claims.link_id) >= 16  # its own id, so an incident can tell a second use
    # Each mint is a new link: two pages to the same person are two links.
    assert AckLinks(KEY).verify(mint(), T0).link_id != claims.link_id
    assert len(token) < 260 and token.isascii()  # fits in a URL, an SMS costs a few parts


def test_a_link_expires_on_the_verifiers_clock():
    token = mint(expires_at=T0 + timedelta(hours=1))
    clock = ManualClock(T0)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert AckLinks(KEY).verify(token, clock.now()).person == "li.na"
    clock.advance(1)
    with pytest.raises(AckLinkRefused, match="expired at 2026-11-02 10:00 UTC") as refused:
        AckLinks(KEY).verify(token, clock.now())
    assert refused.value.reason is Refusal.EXPIRED


def test_an_altered_signature_or_another_key_is_forged():
    token = mint()
    payload, signature = token.rsplit(".", 1)
    # Change the first character: the last one's low bits may be base64 padding, which
    # decodes to the same bytes whatever they are.
    altered = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert refusal(altered) is Refusal.FORGED
    assert refusal(mint(AckLinks("someone-elses-key-0123456789abcdef"))) is Refusal.FORGED


def test_a_link_altered_only_in_the_unused_bits_of_its_last_character_is_forged():
    token = mint()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 32 signature bytes are 43 characters: the last carries 4 bits and 2 unused ones, so
    # flipping its lowest bit decodes to the very same bytes.
    last = alphabet[alphabet.index(token[-1]) ^ 1]
    assert base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=") == \
        base64.urlsafe_b64decode(token.rsplit(".", 1)[1][:-1] + last + "=")
    assert refusal(token[:-1] + last) is Refusal.FORGED


def test_a_link_for_one_incident_cannot_be_made_to_name_another():
    # Graft another link's claims (another incident, another person) onto this signature.
    mine, theirs = mint(), mint(incident_id=str(uuid.uuid4()), person="zhao.lei")
    assert refusal(f"{theirs.rsplit('.', 1)[0]}.{mine.rsplit('.', 1)[1]}") is Refusal.FORGED
    # Or write the claims by hand: without the key there is no signature that matches.
    claims = {"n": "x" * 16, "i": str(uuid.uuid4()), "p": "li.na", "d": DELIVERY,
              "e": int((T0 + timedelta(days=365)).timestamp())}
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert refusal(f"{forged_payload}.{mine.rsplit('.', 1)[1]}") is Refusal.FORGED


@pytest.mark.parametrize("token", ["", "not-a-link", "a.b.c", "x" * 2000 + ".y",
                                   "abc def.ghi", "../../v1/incidents.x"])
def test_what_is_not_a_link_is_malformed(token):
    assert refusal(token) is Refusal.MALFORMED


def test_a_link_cut_short_is_refused():
    token = mint()
    assert refusal(token[:len(token) // 3]) in (Refusal.MALFORMED, Refusal.FORGED)
    assert refusal(token[:-5]) is Refusal.FORGED


def test_a_signed_payload_without_the_claims_is_malformed():
    # Signed with the right key (a bug, or an older format): still not acknowledged with.
    from itsdangerous import URLSafeSerializer
    import hashlib

    serializer = URLSafeSerializer(KEY, salt="closedloop.ack-link.v1",
                                   signer_kwargs={"digest_method": hashlib.sha256})
    assert refusal(serializer.dumps({"i": INCIDENT})) is Refusal.MALFORMED
    assert refusal(serializer.dumps(["not", "claims"])) is Refusal.MALFORMED


def test_keys_rotate_the_first_signs_and_every_one_verifies():
    before = mint(AckLinks(OLD_KEY))
    rotated = AckLinks(f"{KEY},{OLD_KEY}")
    assert rotated.verify(before, T0).person == "li.na"  # links sent before the rotation
    assert AckLinks(KEY).verify(mint(rotated), T0).person == "li.na"  # new ones: the new key
    assert refusal(before, links=AckLinks(KEY)) is Refusal.FORGED  # once the old key is gone


def test_a_short_key_is_refused_at_start_up():
    with pytest.raises(ValueError, match="shorter than 32 characters"):
        AckLinks("secret")
    with pytest.raises(ValueError, match="ack_link_key"):
        IncidentsSettings(ack_link_key="secret")
    assert IncidentsSettings(ack_link_key="").ack_link_key == ""  # empty: links are off


# -- which messages carry one ----------------------------------------------------------------
def delivery(reason: str, recipient: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=uuid.UUID(DELIVERY), incident_id=INCIDENT, reason=reason,
                           recipient=recipient)


@pytest.mark.parametrize("reason, recipient, carries", [
    ("incident.opened", {"handle": "li.na"}, True),
    ("escalation.step2", {"handle": "li.na"}, True),
    ("escalation.retrigger1", {"handle": "li.na"}, True),
    ("late.respond.deadline", {"handle": "li.na"}, True),
    ("incident.opened", None, False),  # a channel, not a person: nobody to acknowledge as
    ("incident.resolved", {"handle": "li.na"}, False),  # only informs
    ("late.verification.deadline", {"handle": "li.na"}, False),  # asks for other work
])
def test_pages_to_a_person_carry_a_link_that_acknowledges_as_them(reason, recipient, carries):
    links = PageLinks(AckLinks(KEY), "https://closedloop.example.com/", timedelta(hours=24))
    url = links.url_for(delivery(reason, recipient), T0)
    assert (url is not None) is carries
    if carries:
        assert url.startswith("https://closedloop.example.com/v1/ack/")
        claims = AckLinks(KEY).verify(url.rsplit("/", 1)[1], T0)
        assert (claims.person, claims.delivery_id) == ("li.na", DELIVERY)
        assert claims.expires_at == T0 + timedelta(hours=24)


def test_without_a_key_or_a_public_url_pages_carry_no_link():
    for key, url in (("", "https://x.example"), (KEY, ""), ("", "")):
        settings = SimpleNamespace(ack_link_key=key, public_url=url, ack_link_hours=24.0)
        assert PageLinks.from_settings(settings) is None


# -- the incident ----------------------------------------------------------------------------
def open_incident() -> Incident:
    return Incident.open(
        fingerprint="fp-checkout", occurrence=1, ref="P1-2026-11-007", severity=Severity.P1,
        title="checkout_latency on store-17", entity="store-17",
        alert={"alert_id": "a-1", "name": "checkout_latency"}, at=T0, actor="detector",
        cause=CAUSE)


def names(incident: Incident) -> list[str]:
    return [type(e).__name__ for e in incident.collect_events()]


def test_opening_the_link_acknowledges_as_the_person_paged_and_records_the_read():
    incident = open_incident()
    incident.collect_events()
    at = T0 + timedelta(minutes=3)
    assert incident.read_page("link-1", "li.na", DELIVERY, at, CAUSE) is True
    assert names(incident) == ["PageRead", "Acknowledged", "RoleAssigned"]
    assert (incident.acknowledged_by, incident.acknowledged_at) == ("li.na", at)
    assert incident.status is Status.INVESTIGATING


def test_a_link_works_once_and_a_second_use_changes_nothing():
    incident = open_incident()
    incident.read_page("link-1", "li.na", DELIVERY, T0, CAUSE)
    incident.collect_events()
    with pytest.raises(LinkAlreadyUsed, match=r"link for incident P1-2026-11-007 was already "
                                              r"used at 2026-11-02T09:00:00\+00:00"):
        incident.read_page("link-1", "li.na", DELIVERY, T0 + timedelta(minutes=1), CAUSE)
    assert names(incident) == []


def test_someone_else_acknowledged_first_the_read_is_still_recorded():
    incident = open_incident()
    incident.acknowledge("zhou.min", "on it", T0, "zhou.min", CAUSE)
    incident.collect_events()
    assert incident.read_page("link-1", "li.na", DELIVERY, T0, CAUSE) is False
    [read] = incident.collect_events()
    assert isinstance(read, Incident.PageRead)
    assert (read.acknowledged, read.acknowledged_by) == (False, "zhou.min")
    assert incident.acknowledged_by == "zhou.min"  # still the first one's


def test_after_a_reminder_the_link_acknowledges_again():
    incident = open_incident()
    incident.acknowledge("zhou.min", "", T0, "zhou.min", CAUSE)
    incident.record_escalation(1, [], 3600, T0 + timedelta(hours=1), "notifier", CAUSE,
                               reason=f"{RETRIGGER}1")
    incident.collect_events()
    assert incident.read_page("link-2", "li.na", DELIVERY, T0 + timedelta(hours=1), CAUSE)
    assert names(incident) == ["PageRead", "Acknowledged"]


def test_a_closed_incident_records_the_read_but_is_not_acknowledged():
    incident = open_incident()
    incident.record_capa_opened("capa-1", "t", T0, "capa", CAUSE)
    incident.close("capa-1", "cause", 1, T0, "capa", CAUSE)
    incident.collect_events()
    assert incident.read_page("link-1", "li.na", DELIVERY, T0, CAUSE) is False
    assert names(incident) == ["PageRead"] and incident.status is Status.CLOSED


def test_the_read_is_on_the_timeline_and_on_the_bus():
    incident = open_incident()
    incident.acknowledge("zhou.min", "", T0, "zhou.min", CAUSE)
    incident.read_page("link-1", "li.na", DELIVERY, T0 + timedelta(minutes=4), CAUSE)
    other = open_incident()
    other.read_page("link-2", "li.na", DELIVERY, T0 + timedelta(minutes=2), CAUSE)
    events = incident.collect_events()
    reads = [e for e in timeline_of(events) if e["action"] == "page read"]
    assert reads == [{
        "at": T0 + timedelta(minutes=4), "actor": "li.na", "action": "page read",
        "detail": f"li.na opened the page for P1-2026-11-007 (delivery {DELIVERY}): zhou.min "
                  "had acknowledged it already",
        "cause": {"correlation_id": "req-1", "causation_id": "req-1"}}]
    other_events = other.collect_events()
    story = [(e["action"], e["detail"]) for e in timeline_of(other_events)][1:3]
    assert story[0] == ("page read", f"li.na opened the page for P1-2026-11-007 (delivery "
                                     f"{DELIVERY}): acknowledging it with one click")
    assert story[1][0] == "acknowledged" and "one-click link" in story[1][1]

    [published] = [c for e in other_events if (c := to_contract(e)) is not None
                   and isinstance(c, IncidentPageRead)]
    assert published == IncidentPageRead(
        incident_id=str(other.id), ref="P1-2026-11-007", person="li.na", delivery_id=DELIVERY,
        link_id="link-2", acknowledged=True, acknowledged_by=None,
        at=T0 + timedelta(minutes=2))
    assert any(isinstance(to_contract(e), IncidentAcknowledged) for e in other_events)


# -- through the application (in-memory store) -----------------------------------------------
def test_the_application_acknowledges_once_per_link_and_shows_the_use(store_env):
    clock = ManualClock(T0)
    app = IncidentsApplication(store_env, clock)
    alert = AlertRaised(alert_id="a-1", fingerprint="fp-1", source="rule", name="latency",
                        entity="store-17", severity="P1", started_at=T0)
    app.handle_alert_raised(CloudEvent(id="m-1", source="closedloop/detector",
                                       type=alert.type_name(), time=T0,
                                       data=alert.model_dump(mode="json")),
                            alert, Tracking("DETECTOR", 1))
    incident_id = str(Incident.create_id("fp-1", 1))
    link = AckClaims(link_id="link-1", incident_id=incident_id, person="li.na",
                     delivery_id=DELIVERY, expires_at=T0 + timedelta(hours=24))
    assert app.page_link(link)["used_at"] is None
    clock.advance(120)
    done = app.read_page(link, CAUSE)
    assert done["acknowledged"] is True and done["incident"]["acknowledged_by"] == "li.na"
    assert app.page_link(link)["used_at"] == T0 + timedelta(seconds=120)
    version = app.incident(incident_id)["version"]
    with pytest.raises(LinkAlreadyUsed):
        app.read_page(link, CAUSE)
    assert app.incident(incident_id)["version"] == version


async def test_without_a_key_the_incidents_service_refuses_every_link_and_says_why():
    from services.incidents.main import create_app

    app = create_app(IncidentsSettings(database_url="postgresql://unused"))
    # Nothing is started (no lifespan): a refusal needs neither the store nor the bus.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://incidents") as client:
        refused = await client.post(f"/v1/ack/{mint()}")
    assert refused.status_code == 404
    assert refused.json()["reason"] == "off" and "CLOSEDLOOP_ACK_LINK_KEY" in refused.text


def test_the_stack_keeps_one_link_key_and_points_links_at_the_incidents_service(
        tmp_path, monkeypatch):
    from closedloop.stack import ack_link_key, public_url

    monkeypatch.delenv("CLOSEDLOOP_ACK_LINK_KEY", raising=False)
    monkeypatch.delenv("CLOSEDLOOP_PUBLIC_URL", raising=False)
    key = ack_link_key(tmp_path)
    assert ack_link_key(tmp_path) == key  # the next start finds the same one
    assert (tmp_path / "ack-link-key").stat().st_mode & 0o777 == 0o600
    assert AckLinks(key).verify(mint(AckLinks(key)), T0).person == "li.na"  # long enough
    urls = {"incidents": "http://127.0.0.1:8082", "notifier": "http://127.0.0.1:8083"}
    assert public_url(urls) == "http://127.0.0.1:8082"
    monkeypatch.setenv("CLOSEDLOOP_PUBLIC_URL", "https://closedloop.example.com")
    monkeypatch.setenv("CLOSEDLOOP_ACK_LINK_KEY", "k" * 40)
    assert public_url(urls) == "https://closedloop.example.com"
    assert ack_link_key(tmp_path) == "k" * 40
