"""The chain audit on records made in memory: each kind of tampering gets its own verdict."""
from __future__ import annotations

from uuid import uuid4

from shared.chain import GENESIS, link
from shared.chain_audit import ChainAudit, Record

KEY = b"k"


def chained_log(n: int, start_id: int = 1) -> list[Record]:
    """n records of one aggregate, chained like the recorder chains them."""
    aggregate, prev, log = uuid4(), GENESIS, []
    for i in range(n):
        state = f"state {i}".encode()
        own = link(KEY, prev, aggregate, i + 1, "toy:Counter.Incremented", state)
        log.append(Record(start_id + i, aggregate, i + 1, "toy:Counter.Incremented", state, prev, own))
        prev = own
    return log


def audit(log: list[Record], head: tuple[bytes, int] | None) -> list[str]:
    checker = ChainAudit(key=KEY)
    for record in log:
        checker.add(record)
    return [f"{p.kind}@{p.notification_id}" for p in checker.finish(head)]


def head_of(log: list[Record]) -> tuple[bytes, int]:
    return log[-1].chain_hash, len(log)


def test_an_intact_chain_has_no_problems():
    log = chained_log(5)
    assert audit(log, head_of(log)) == []


def test_the_same_records_under_another_key_are_all_edited():
    log = chained_log(3)
    checker = ChainAudit(key=b"other")
    for record in log:
        checker.add(record)
    assert [p.kind for p in checker.finish(head_of(log))] == ["edited"] * 3
    assert checker.intact == 0


def test_changed_bytes_make_one_record_edited():
    log = chained_log(4)
    log[1] = log[1]._replace(state=b"changed")
    assert audit(log, head_of(log)) == ["edited@2"]


def test_a_removed_hash_after_the_chain_began_is_an_edit_but_before_it_is_history():
    log = chained_log(3, start_id=3)
    legacy = [Record(i, uuid4(), 1, "t", b"old", None, None) for i in (1, 2)]
    checker = ChainAudit(key=KEY)
    for record in legacy + log:
        checker.add(record)
    assert checker.finish(head_of(log)) == [] and checker.before_chain == 2
    log[1] = log[1]._replace(prev_hash=None, chain_hash=None)
    assert audit(log, head_of(log))[0] == "edited@4"


def test_a_missing_middle_record_is_deleted_where_the_chain_breaks():
    log = chained_log(5)
    head = head_of(log)
    del log[2]
    assert sorted(audit(log, head)) == ["deleted@4", "deleted@4", "deleted@None"]
    # the broken link, the version gap, and the head's count that says how many went


def test_two_records_in_each_others_place_are_reordered_not_deleted():
    log = chained_log(4)
    log[1], log[2] = log[2]._replace(notification_id=2), log[1]._replace(notification_id=3)
    verdicts = audit(log, head_of(log))
    assert verdicts and all(v.startswith("reordered") for v in verdicts), verdicts


def test_no_head_row_with_chained_records_is_reported():
    assert audit(chained_log(2), None) == ["deleted@None"]
