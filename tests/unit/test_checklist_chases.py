"""The notifier chases an incident's SOP checklist items as late stages, on the in-memory
store: each attached item is a checklist:<item> deadline counted from the opening (the
Responsible warned at 80%, the Accountable told at its due time); a check meets it, even one
that arrives before the list; a replaced template moves the items both lists share and ends
the dropped ones; closing the incident ends every chase; a held incident's items are chased
from the release, each with the time it had."""
from __future__ import annotations

from datetime import timedelta

from services.notifier.holds.opening import Opening
from services.notifier.raci.deadline import DeadlineStatus, MetEarly, deadline_id
from shared.contracts import (
    IncidentChecklistAttached, IncidentChecklistItemChecked, IncidentClosed,
)
from tests.unit.test_notifier_domain import CAUSE, T0, seconds
from tests.unit.test_raci import _with_tracking, app, open_p0, sent, store_network  # noqa: F401

REF = "P0-2026-11-017"


def attached(template: str | None, items: dict[str, int], replaced: str | None = None):
    """`items`: id → minutes from the opening."""
    return IncidentChecklistAttached(
        incident_id="inc-c1", ref=REF, template=template, severity="P0", opened_at=T0,
        replaced=replaced, at=T0,
        items=[{"item": i, "title": f"title of {i}", "due_at": T0 + timedelta(minutes=m)}
               for i, m in items.items()])


def checked(item: str, by: str = "li.na", minutes: int = 5):
    return IncidentChecklistItemChecked(incident_id="inc-c1", ref=REF, item=item, by=by,
                                        due_at=T0 + timedelta(minutes=15), late=False,
                                        at=T0 + timedelta(minutes=minutes))


def status(app, item: str):  # noqa: F811 (the fixture's name)
    return app.repository.get(deadline_id("inc-c1", f"checklist:{item}")).status


def test_each_item_is_chased_until_checked(app):  # noqa: F811
    im = store_network(app)
    open_p0(app, "inc-c1")
    app.handle_incident_checklist_attached(*_with_tracking(attached("P0 SOP", {
        "store_manager_called": 15, "task_created": 15, "facts_gathered": 60}), 2))
    task = app.repository.get(deadline_id("inc-c1", "checklist:task_created"))
    assert (task.kind, task.subject, task.started_at, task.due_at) == (
        "checklist", "title of task_created", T0, T0 + seconds(900))
    app.handle_incident_checklist_item_checked(*_with_tracking(
        checked("store_manager_called"), 3))
    assert status(app, "store_manager_called") is DeadlineStatus.MET
    app.chase(task.id, T0 + seconds(720))  # 80% of the quarter hour
    assert sent(app, "inc-c1", im, "late.checklist.warning", "checklist:task_created") == [
        "li.na", "zhou.min"]
    app.chase(task.id, T0 + seconds(900))
    assert sent(app, "inc-c1", im, "late.checklist.deadline", "checklist:task_created") == [
        "zhao.lei"]
    app.handle_incident_checklist_item_checked(*_with_tracking(checked("task_created", "zhou.min",
                                                                       16), 4))
    assert status(app, "task_created") is DeadlineStatus.MET

    # Closed: the hour's item is not chased any more.
    app.handle_incident_closed(*_with_tracking(IncidentClosed(
        incident_id="inc-c1", ref=REF, at=T0 + seconds(1200)), 5))
    assert status(app, "facts_gathered") is DeadlineStatus.MET


def test_a_replaced_template_moves_shared_items_and_ends_dropped_ones(app):  # noqa: F811
    store_network(app)
    open_p0(app, "inc-c1")
    # A check that overtook its list: the item is never chased.
    app.handle_incident_checklist_item_checked(*_with_tracking(checked("task_created"), 2))
    assert isinstance(app.get_or_none(deadline_id("inc-c1", "checklist:task_created")),
                      MetEarly)
    app.handle_incident_checklist_attached(*_with_tracking(attached("P1 SOP", {
        "task_created": 30, "facts_gathered": 120, "customers_told": 240}), 3))
    app.handle_incident_checklist_attached(*_with_tracking(attached("P0 SOP", {
        "task_created": 15, "facts_gathered": 60}, replaced="P1 SOP"), 4))
    moved = app.repository.get(deadline_id("inc-c1", "checklist:facts_gathered"))
    assert (moved.status, moved.due_at) == (DeadlineStatus.WAITING, T0 + seconds(3600))
    assert status(app, "customers_told") is DeadlineStatus.MET
    # Withdrawn (no template for the new severity): nothing is chased.
    app.handle_incident_checklist_attached(*_with_tracking(attached(None, {},
                                                                    replaced="P0 SOP"), 5))
    assert status(app, "facts_gathered") is DeadlineStatus.MET


def test_a_held_incidents_checklist_is_chased_from_the_release(app):  # noqa: F811
    store_network(app)
    app.create_silence(matchers='entity="store-017"', starts_at=T0,
                       ends_at=T0 + timedelta(minutes=30), comment="门店装修", actor="li.na",
                       cause=CAUSE)
    open_p0(app, "inc-c1")
    app.handle_incident_checklist_attached(*_with_tracking(attached("P0 SOP", {
        "task_created": 15, "facts_gathered": 60}), 2))
    assert app.get_or_none(deadline_id("inc-c1", "checklist:task_created")) is None
    released_at = T0 + timedelta(minutes=30)
    app.clock.advance(released_at - app.clock.now())
    version = app.get_or_none(Opening.create_id("inc-c1")).version
    assert app.release_held("inc-c1", version, released_at) == "released"
    task = app.repository.get(deadline_id("inc-c1", "checklist:task_created"))
    assert (task.started_at, task.due_at) == (released_at, released_at + seconds(900))
    assert app.repository.get(deadline_id("inc-c1", "checklist:facts_gathered")).due_at == \
        released_at + seconds(3600)
