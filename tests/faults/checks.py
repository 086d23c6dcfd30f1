"""What the fault suite asserts once the load is over, read from the running system: the
services' APIs, the webhook receiver, and JetStream (escalation facts, the DLQ)."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.bus.deadletter import CONSUMER, REASON
from shared.contracts import CloudEvent, EscalationTriggered
from tests.faults.load import Traffic, fingerprint
from tests.faults.receiver import Receiver

OPENED, ESCALATED = "incident.opened", "escalation.step1"
TRACE_EVERY = 5.0  # seconds between two progress records
UNSETTLED = ("pending", "sending", "retrying")


@dataclass
class Progress:
    incidents: int
    opened_notices: int
    escalation_notices: int
    resolved: int
    capa_cases: int
    # Deliveries the notifier has not settled yet. A send cut off by a killed notifier stays
    # 'sending' until its attempt's lease ends; only then is it retried and recorded.
    unsettled: int = 0
    # Deliveries the notifier's read model shows delivered. A first attempt goes out before
    # its delivery is projected, so the receiver can be complete while the read model (fed
    # from the bus) still lags: an empty 'unsettled' alone does not mean settled.
    delivered: int = 0

    def done(self, alerts: int, to_resolve: int) -> bool:
        return (self.incidents == alerts and self.opened_notices == alerts
                and self.escalation_notices == alerts and self.resolved == to_resolve
                and self.capa_cases == to_resolve and self.unsettled == 0
                and self.delivered == 2 * alerts)


def _total(http: httpx.Client, url: str, **params: Any) -> int:
    response = http.get(url, params={**params, "limit": 1})
    response.raise_for_status()
    return response.json()["total"]


def all_items(http: httpx.Client, url: str, page: int, **params: Any) -> list[dict]:
    """Every row of a paged list (offset paging over a list that no longer grows)."""
    items: list[dict] = []
    total = None
    while total is None or len(items) < total:
        response = http.get(url, params={**params, "limit": page, "offset": len(items)})
        response.raise_for_status()
        body = response.json()
        total = body["total"]
        if not body["items"]:
            break
        items += body["items"]
    return items


def progress(http: httpx.Client, urls: dict[str, str], receiver: Receiver,
             traffic: Traffic) -> Progress:
    first, _ = receiver.snapshot()
    reasons = Counter(r.reason for r in first.values())
    return Progress(
        incidents=_total(http, f"{urls['incidents']}/v1/incidents"),
        opened_notices=reasons[OPENED], escalation_notices=reasons[ESCALATED],
        resolved=len(traffic.resolved), capa_cases=_total(http, f"{urls['capa']}/v1/capa"),
        unsettled=sum(_total(http, f"{urls['notifier']}/v1/deliveries", status=status)
                      for status in UNSETTLED),
        delivered=_total(http, f"{urls['notifier']}/v1/deliveries", status="delivered"))


def wait_caught_up(http: httpx.Client, urls: dict[str, str], receiver: Receiver,
                   traffic: Traffic, timeout: float, trace: list[dict]) -> float:
    """Poll until everything accepted is processed; returns when (monotonic). Appends the
    progress to `trace` every few seconds. A service still down answers nothing: that is a
    poll that did not finish yet."""
    started = time.monotonic()
    deadline, traced = started + timeout, 0.0
    wanted = (traffic.stats.accepted, len(traffic.to_resolve))
    last: Progress | None = None
    while time.monotonic() < deadline:
        try:
            last = progress(http, urls, receiver, traffic)
            if last.done(*wanted):
                trace.append({"t": round(time.monotonic() - started, 1), **asdict(last)})
                return time.monotonic()
            if time.monotonic() - traced >= TRACE_EVERY:
                traced = time.monotonic()
                trace.append({"t": round(traced - started, 1), **asdict(last)})
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"not caught up after {timeout:.0f}s: {last} "
                         f"(wanted {wanted[0]} alerts, {wanted[1]} resolved)")


def verify(http: httpx.Client, urls: dict[str, str], receiver: Receiver, traffic: Traffic,
           nats_url: str) -> list[str]:
    """Everything that must hold once caught up; each broken promise is one line."""
    problems = list(traffic.stats.errors[:10])
    expected = {fingerprint(i) for i in range(traffic.alerts)}
    incidents = all_items(http, f"{urls['incidents']}/v1/incidents", 500)
    per_fingerprint = Counter(i["fingerprint"] for i in incidents)
    twice = [f for f, n in per_fingerprint.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} alerts opened more than one incident, e.g. {twice[:3]}")
    if missing := expected - per_fingerprint.keys():
        problems.append(f"{len(missing)} alerts opened no incident, e.g. {sorted(missing)[:3]}")
    if strangers := per_fingerprint.keys() - expected:
        problems.append(f"{len(strangers)} incidents for alerts never sent: {sorted(strangers)[:3]}")

    first, arrivals = receiver.snapshot()
    by_incident: dict[str, Counter] = {}
    for delivery in first.values():
        by_incident.setdefault(delivery.incident_id, Counter())[delivery.reason] += 1
    for incident in incidents:
        seen = by_incident.get(incident["id"], Counter())
        if seen[OPENED] != 1 or seen[ESCALATED] != 1:
            problems.append(f"incident {incident['ref']}: receiver got {dict(seen)} distinct "
                            f"deliveries, wanted one {OPENED} and one {ESCALATED}")
            break
    deliveries = all_items(http, f"{urls['notifier']}/v1/deliveries", 1000)
    undelivered = [d for d in deliveries if d["status"] != "delivered"]
    if undelivered:
        problems.append(f"{len(undelivered)} deliveries not delivered, e.g. {undelivered[0]}")
    if unseen := {d["id"] for d in deliveries} - first.keys():
        problems.append(f"{len(unseen)} deliveries the receiver never got, e.g. {sorted(unseen)[:3]}")
    if receiver.bad_signatures:
        problems.append(f"{receiver.bad_signatures} webhook requests with a bad signature")

    cases = Counter(c["incident_id"] for c in all_items(http, f"{urls['capa']}/v1/capa", 500))
    if cases.keys() != traffic.resolved or any(n != 1 for n in cases.values()):
        problems.append(f"CAPA cases {len(cases)} for {len(traffic.resolved)} resolved incidents")

    fired, dead = asyncio.run(_from_the_bus(nats_url))
    ids = {i["id"] for i in incidents}
    wrong = {i: fired.get(i, 0) for i in ids if fired.get(i, 0) != 1}
    if wrong:
        problems.append(f"{len(wrong)} incidents whose escalation timer fired other than once "
                        f"(EscalationTriggered on NOTIFIER), e.g. {list(wrong.items())[:3]}")
    if dead:
        problems.append(f"DLQ holds {dead[0]} messages; first reasons: {dead[1]}")
    return problems


async def _from_the_bus(nats_url: str) -> tuple[Counter, tuple[int, list[str]] | None]:
    """EscalationTriggered per incident (distinct events) and the DLQ's depth with reasons."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        subject = EscalationTriggered.type_name()
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                                inactive_threshold=30)
        sub = await js.pull_subscribe(subject, stream="NOTIFIER", config=config)
        pending = (await sub.consumer_info()).num_pending
        fired: Counter = Counter()
        seen_ids: set[str] = set()
        read, deadline = 0, time.monotonic() + 60
        while read < pending and time.monotonic() < deadline:
            try:
                batch = await sub.fetch(min(500, pending - read), timeout=2)
            except nats.errors.TimeoutError:
                continue
            for msg in batch:
                read += 1
                envelope = CloudEvent.from_bytes(msg.data)
                if envelope.id not in seen_ids:  # one event published twice is not two firings
                    seen_ids.add(envelope.id)
                    fired[envelope.data["incident_id"]] += 1
        await sub.unsubscribe()
        state = (await js.stream_info("DLQ")).state
        depth = state.messages
        if not depth:
            return fired, None
        reasons = []
        for seq in range(state.first_seq, state.first_seq + min(depth, 5)):
            msg = await js.get_msg("DLQ", seq)
            headers = msg.headers or {}
            reasons.append(f"{headers.get(CONSUMER)}: {headers.get(REASON, '')[:200]}")
        return fired, (depth, reasons)
    finally:
        await nc.close()

