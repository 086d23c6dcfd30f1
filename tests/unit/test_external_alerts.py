"""External alerts against what the caller knows of the firing set: a re-send reads and stores
nothing, a change is decided on the aggregate itself, and with the caller's knowledge current
the outcome is the same as reading every alert."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from services.detector.external import ExternalAlert
from services.detector.app import DetectorApplication
from services.detector.domain import Severity, alert_id_for

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def sent(fingerprint: str, firing: bool = True) -> ExternalAlert:
    return ExternalAlert(fingerprint=fingerprint, firing=firing, name="DiskFull", entity="db-1",
                         severity=Severity.P1, labels={"alertname": "DiskFull"},
                         summary="disk full", starts_at=NOW, ends_at=None if firing else NOW)


class Detector:
    """The application with reads counted, and a caller's memory of what fires."""

    def __init__(self) -> None:
        self.app = DetectorApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.known: dict = {}
        self.reads = 0
        read = self.app.get_or_none

        def counted(aggregate_id):
            self.reads += 1
            return read(aggregate_id)

        self.app.get_or_none = counted

    def receive(self, *alerts: ExternalAlert, read_unknown: bool = False) -> dict[str, int]:
        return self.app.receive_external(list(alerts), self.known.get, actor="alertmanager:test",
                                         cause={}, read_unknown=read_unknown)

    def events(self, fingerprint: str) -> list[str]:
        return [type(e).__name__ for e in self.app.stored_events(alert_id_for(fingerprint))]


def test_a_new_alert_is_raised_without_reading_the_store():
    detector = Detector()
    assert detector.receive(sent("fp-1"))["raised"] == 1
    assert detector.reads == 0
    assert detector.events("fp-1") == ["Registered", "Raised"]


def test_a_resend_of_what_the_caller_knows_reads_and_stores_nothing():
    detector = Detector()
    detector.receive(sent("fp-1"), sent("fp-2"))
    detector.known = {alert_id_for("fp-1"): True, alert_id_for("fp-2"): False}
    assert detector.receive(sent("fp-1"), sent("fp-2", firing=False), sent("fp-3", firing=False)) == {
        "accepted": 3, "raised": 0, "resolved": 0}
    assert detector.reads == 0


def test_a_change_is_decided_on_the_aggregate_itself():
    detector = Detector()
    detector.receive(sent("fp-1"))
    detector.known = {alert_id_for("fp-1"): False}  # stale: it fires in the store
    assert detector.receive(sent("fp-1"))["raised"] == 0
    detector.known = {alert_id_for("fp-1"): True}
    assert detector.receive(sent("fp-1", firing=False))["resolved"] == 1
    assert detector.reads == 2
    assert detector.events("fp-1") == ["Registered", "Raised", "Resolved"]


def test_after_a_conflict_an_alert_the_caller_never_saw_is_read_first():
    detector = Detector()
    detector.receive(sent("fp-1"))  # stored by "another replica"; the caller knows nothing
    assert detector.receive(sent("fp-1"), read_unknown=True)["raised"] == 0
    assert detector.events("fp-1") == ["Registered", "Raised"]


def test_one_alert_twice_in_a_request_is_taken_in_order():
    detector = Detector()
    detector.receive(sent("fp-1"))
    detector.known = {alert_id_for("fp-1"): True}
    assert detector.receive(sent("fp-1", firing=False), sent("fp-1")) == {
        "accepted": 2, "raised": 1, "resolved": 1}


@settings(max_examples=60, deadline=None)
@given(requests=st.lists(st.lists(st.tuples(st.sampled_from("abcd"), st.booleans()),
                                  min_size=1, max_size=6), min_size=1, max_size=8))
def test_with_current_knowledge_each_alert_alternates_raised_and_resolved(requests):
    detector = Detector()
    truth: dict[str, bool] = {}
    for request in requests:
        detector.known = {alert_id_for(fp): firing for fp, firing in truth.items()}
        detector.receive(*(sent(fp, firing) for fp, firing in request))
        for fp, firing in request:
            if firing or truth.get(fp):
                truth[fp] = firing
    for fp in "abcd":
        changes = [e for e in detector.events(fp) if e in ("Raised", "Resolved")]
        assert changes == ["Raised", "Resolved"] * (len(changes) // 2) + ["Raised"] * (len(changes) % 2)
        assert bool(changes) == (fp in truth)
        assert (changes[-1:] == ["Raised"]) == truth.get(fp, False)


def acknowledgement(fingerprint: str) -> ExternalAlert:
    return ExternalAlert(fingerprint=fingerprint, firing=False, name="", entity="",
                         severity=Severity.P3, labels={}, summary="", starts_at=NOW, ends_at=NOW,
                         source="pagerduty", acknowledge=True)


def test_an_acknowledgement_is_recorded_once_per_occurrence_and_only_while_firing():
    detector = Detector()
    detector.receive(sent("fp-1"))
    detector.known = {alert_id_for("fp-1"): True}
    assert detector.receive(acknowledgement("fp-1"))["acknowledged"] == 1
    assert "acknowledged" not in detector.receive(acknowledgement("fp-1"))  # again: nothing
    detector.receive(sent("fp-1", firing=False))
    detector.known = {alert_id_for("fp-1"): False}
    reads = detector.reads
    assert "acknowledged" not in detector.receive(acknowledgement("fp-1"), acknowledgement("fp-9"))
    assert detector.reads == reads  # quiet or never raised: not even read
    assert detector.events("fp-1") == ["Registered", "Raised", "Acknowledged", "Resolved"]


def test_the_sender_its_metric_and_value_are_carried_onto_the_alert():
    detector = Detector()
    mapped = ExternalAlert(fingerprint="fp-g", firing=True, name="StoreErrorRate", entity="sz",
                           severity=Severity.P0, labels={}, summary="", starts_at=NOW,
                           ends_at=None, source="webhook:grafana", metric="errors", value=42.5)
    detector.receive(mapped)
    raised = detector.app.stored_events(alert_id_for("fp-g"))[-1]
    assert (raised.source, raised.metric, raised.value) == ("webhook:grafana", "errors", 42.5)
