"""The service application's batch: what one handler saved is invisible to the next until the
batch commits, so reading it must abort the batch (the consumer then goes one by one)."""
from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate, event

from shared.store import ChangedInThisBatch, ServiceApplication


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


def test_reading_what_an_earlier_handler_of_the_batch_changed_aborts_the_batch(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="opened")

    def handlers() -> None:
        app.save_tracked(note, tracking=None)  # message 1 changes the note …
        app.get_or_none(note.id)  # … message 2 would decide on the old state

    with pytest.raises(ChangedInThisBatch):
        app.save_batch(handlers)
    assert app.get_or_none(note.id) is None  # nothing of the batch was written
    app.save_tracked(Note(text="later"), tracking=None)  # and no batch state leaked


def test_a_batch_of_independent_changes_is_written_together(store_env):
    app = ServiceApplication(store_env)
    first, second = Note(text="a"), Note(text="b")
    app.save_batch(lambda: (app.save_tracked(first, tracking=None),
                            app.save_tracked(second, tracking=None)))
    assert app.repository.get(first.id).text == "a" and app.repository.get(second.id).text == "b"
