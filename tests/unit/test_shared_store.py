"""The service application's batch: handlers of one batch read what earlier handlers saved
(the store does not know it until the batch commits), and a batch writes all or nothing,
numbers issued with its events included."""
from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate, event

from shared.errors import DomainError
from shared.store import ChangedInThisBatch, IntegrityError, Numbered, ServiceApplication


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


# -- numbers issued with the events ---------------------------------------------------------
def test_numbers_are_consecutive_per_scope_inside_a_batch_and_after_it(store_env):
    app = ServiceApplication(store_env)

    def handlers() -> None:
        for scope in ("a", "a", "b", "a"):
            note = Note(text=scope)
            number = app.next_number(scope)
            app.save_tracked(note, tracking=None, numbers=(Numbered(scope, number, note.id),))

    app.save_batch(handlers)
    assert [app.next_number("a"), app.next_number("b"), app.next_number("c")] == [4, 2, 1]
    owner = app.number_owner("a", 3)
    assert app.repository.get(owner).text == "a" and app.number_owner("a", 4) is None


def test_a_failed_batch_issues_no_number_and_a_number_is_issued_once(store_env):
    app = ServiceApplication(store_env)

    def fails() -> None:
        note = Note(text="never")
        app.save_tracked(note, tracking=None, numbers=(Numbered("a", app.next_number("a"), note.id),))
        raise RuntimeError("a later handler fails")

    with pytest.raises(RuntimeError):
        app.save_batch(fails)
    assert app.next_number("a") == 1  # no gap: the rolled-back number is issued again
    first, second = Note(text="first"), Note(text="second")
    app.save_tracked(first, tracking=None, numbers=(Numbered("a", 1, first.id),))
    with pytest.raises(IntegrityError):  # a replica that computed the same number
        app.save_tracked(second, tracking=None, numbers=(Numbered("a", 1, second.id),))
    assert app.get_or_none(second.id) is None and app.number_owner("a", 1) == first.id
    assert app.next_number("a", floor=7) == 8  # where an earlier numbering left off


def test_a_batch_reads_ahead_in_one_go_and_its_handlers_read_what_it_found(store_env):
    app = ServiceApplication(store_env)
    saved, missing = Note(text="saved"), Note(text="never saved")
    app.save(saved)
    reads: list[object] = []
    read = app.recorder.select_events

    def counting(*args, **kwargs):
        reads.append(args[0])
        return read(*args, **kwargs)

    def handlers() -> None:
        found = app.read_ahead([saved.id, missing.id])
        assert list(found) == [saved.id]
        app.recorder.select_events = counting
        assert app.get_or_none(saved.id).text == "saved"
        assert app.get_or_none(missing.id) is None

    app.save_batch(handlers)
    assert reads == []  # neither handler went back to the store
    assert app.read_ahead([saved.id]) == {}  # outside a batch: nothing to read ahead for


class NoteClosed(DomainError):
    pass


def test_commands_saved_together_write_once_and_a_refused_one_is_its_own(store_env):
    app = ServiceApplication(store_env)
    first, second = Note(text="a"), Note(text="b")
    app.save(first, second)

    def amend(note_id, word: str) -> str:
        note = app.get_or_none(note_id)
        if note.text.endswith("!"):
            raise NoteClosed(f"note {note.text!r} is closed")
        note.amend(word)
        app.save(note)  # collected: written with the rest of the batch
        return note.text

    results = app.save_together([lambda: amend(first.id, "!"), lambda: amend(first.id, "?"),
                                 lambda: amend(second.id, "!")],
                                read_ahead=[first.id, second.id])
    assert results[0] == "a!" and isinstance(results[1], NoteClosed) and results[2] == "b!"
    assert app.repository.get(first.id).text == "a!" and app.repository.get(first.id).version == 2
    assert app.repository.get(second.id).text == "b!"


def test_commands_saved_together_write_nothing_when_one_fails_otherwise(store_env):
    app = ServiceApplication(store_env)
    note = Note(text="a")
    app.save(note)

    def amend() -> None:
        current = app.get_or_none(note.id)
        current.amend("-lost")
        app.save(current)

    def broken() -> None:
        raise RuntimeError("not a refusal")

    with pytest.raises(RuntimeError):
        app.save_together([amend, broken])
    assert app.repository.get(note.id).text == "a"
