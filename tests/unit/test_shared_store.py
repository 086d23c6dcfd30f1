"""The service application's batch: handlers of one batch read what earlier handlers saved
(the store does not know it until the batch commits), and a batch writes all or nothing."""
from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate, event

from shared.store import ChangedInThisBatch, ServiceApplication


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Amended")
    def amend(self, text: str) -> None:
        self.text += text


def test_a_handler_reads_what_an_earlier_handler_of_the_batch_saved(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="opened")
    app.save(note)
    seen: list[str] = []

    def handlers() -> None:
        for word in (", seen", ", fixed"):  # two messages changing the same note
            current = app.get_or_none(note.id)
            seen.append(current.text)
            current.amend(word)
            app.save_tracked(current, tracking=None)

    app.save_batch(handlers)
    assert seen == ["opened", "opened, seen"]
    assert app.repository.get(note.id).text == "opened, seen, fixed"
    assert app.repository.get(note.id).version == 3  # one event each, in order


def test_a_change_a_failing_handler_did_not_save_is_not_seen_by_the_next(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="a")

    def handlers() -> None:
        app.save_tracked(note, tracking=None)
        app.get_or_none(note.id).amend("-unsaved")  # changed, never saved
        assert app.get_or_none(note.id).text == "a"

    app.save_batch(handlers)
    assert app.repository.get(note.id).text == "a"


def test_a_failing_batch_writes_nothing(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="opened")

    def handlers() -> None:
        app.save_tracked(note, tracking=None)
        raise RuntimeError("the second message's handler fails")

    with pytest.raises(RuntimeError):
        app.save_batch(handlers)
    assert app.get_or_none(note.id) is None  # nothing of the batch was written
    app.save_tracked(Note(text="later"), tracking=None)  # and no batch state leaked
    assert app.get_or_none(note.id) is None


def test_an_earlier_version_of_something_the_batch_changed_is_not_read(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="opened")
    app.save(note)

    def handlers() -> None:
        current = app.get_or_none(note.id)
        current.amend("!")
        app.save_tracked(current, tracking=None)
        app.repository.get(note.id, version=1)  # the store knows none of the batch's versions

    with pytest.raises(ChangedInThisBatch):
        app.save_batch(handlers)


def test_a_batch_of_independent_changes_is_written_together(store_env):
    app = ServiceApplication(store_env)
    first, second = Note(text="a"), Note(text="b")
    app.save_batch(lambda: (app.save_tracked(first, tracking=None),
                            app.save_tracked(second, tracking=None)))
    assert app.repository.get(first.id).text == "a" and app.repository.get(second.id).text == "b"
