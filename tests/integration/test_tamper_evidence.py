"""Tamper evidence on PostgreSQL: events saved through real applications, then rows altered,
deleted or reordered by hand with SQL; `closedloop verify` must name each change."""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest

from closedloop.cli import main
from closedloop.verify import verify
from shared.chain import GENESIS, link
from shared.clock import ManualClock
from shared.store import Tracking, ensure_schema, eventsourcing_env
from services.incidents.app import IncidentsApplication
from tests.integration.toy import SERVICE, Counter, ToyApplication, alert_envelope

pytestmark = pytest.mark.integration
KEY = "chain-key-kept-by-the-service"
EVENTS = "toy.toy_events"


def toy_app(database_url: str, key: str = KEY, **env: str) -> ToyApplication:
    ensure_schema(database_url, SERVICE)
    return ToyApplication({**eventsourcing_env(database_url, SERVICE, chain_key=key), **env})


def save_story(app: ToyApplication) -> None:
    """Counters a (4 events) and b (3 events) saved one by one, then c and d in one batch."""
    for _ in range(3):
        app.increment("a")
    app.increment("b")
    app.increment("b")

    def two_messages() -> None:
        for n, name in enumerate(["c", "d"], start=1):
            counter = Counter(name=name, at=app.clock.now(), actor="test", cause={})
            app.save_tracked(counter, tracking=Tracking("upstream", n))

    app.save_batch(two_messages)


@pytest.fixture
def saved(database_url):
    app = toy_app(database_url)
    save_story(app)
    app.close()
    return database_url


def sql(database_url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def row(database_url: str, name: str, version: int) -> int:
    """The notification id of counter `name`'s event at `version`."""
    return sql(database_url, f"SELECT notification_id FROM {EVENTS} WHERE originator_id = %s "
               "AND originator_version = %s", (Counter.create_id(name), version))[0][0]


def run_verify(database_url: str, key: str = KEY, anchor: str = "") -> tuple[int, list[str]]:
    lines: list[str] = []
    code = verify(SERVICE, database_url, key, anchor, out=lines.append)
    return code, lines


def problems(lines: list[str]) -> list[str]:
    kinds = ("EDITED", "DELETED", "REORDERED")
    return sorted(line.strip() for line in lines if line.strip().startswith(kinds))


def test_an_untouched_log_verifies_ok_and_prints_its_head(saved):
    code, lines = run_verify(saved)
    assert code == 0, lines
    assert lines[0] == "toy.toy_events: 9 records, 9 chained, 0 from before the chain (not verifiable)"
    head_id, head_hash = sql(saved, f"SELECT notification_id, encode(chain_hash, 'hex') FROM "
                             f"{EVENTS} ORDER BY notification_id DESC LIMIT 1")[0]
    assert lines[1] == f"  head: notification {head_id}  {head_hash}"
    assert lines[-1] == "  OK"


def test_an_edited_row_is_reported_as_edited(saved):
    edited = row(saved, "a", 2)
    sql(saved, f"UPDATE {EVENTS} SET state = state || '\\x00'::bytea WHERE notification_id = %s",
        (edited,))

    code, lines = run_verify(saved)

    assert code == 1
    assert problems(lines) == [f"EDITED    notification {edited} (aggregate "
                               f"{Counter.create_id('a')} v2): its stored bytes do not match its hash"]


def test_a_row_deleted_in_the_middle_is_reported_as_deleted(saved):
    deleted = row(saved, "a", 2)
    after = sql(saved, f"SELECT min(notification_id) FROM {EVENTS} WHERE notification_id > %s",
                (deleted,))[0][0]
    a3 = row(saved, "a", 3)
    sql(saved, f"DELETE FROM {EVENTS} WHERE notification_id = %s", (deleted,))

    code, lines = run_verify(saved)

    assert code == 1
    assert problems(lines) == sorted([
        f"DELETED   notification {after}: the record it was chained to is missing",
        f"DELETED   notification {a3} (aggregate {Counter.create_id('a')} v3): "
        "version 2 of its aggregate missing",
        "DELETED   the head counts 9 chained records, found 8"])  # how many went


def test_the_last_row_deleted_is_reported_by_the_head(saved):
    last = sql(saved, f"SELECT max(notification_id) FROM {EVENTS}")[0][0]
    sql(saved, f"DELETE FROM {EVENTS} WHERE notification_id = %s", (last,))

    code, lines = run_verify(saved)

    assert code == 1
    assert problems(lines) == ["DELETED   the last record(s) are missing: the head's record is "
                               "not in the log (the head counts 9 chained records, found 8)"]


def test_a_deleted_tail_stays_evident_after_the_next_save(saved):
    last = sql(saved, f"SELECT max(notification_id) FROM {EVENTS}")[0][0]
    sql(saved, f"DELETE FROM {EVENTS} WHERE notification_id = %s", (last,))
    app = toy_app(saved)
    app.increment("e")  # chains to the head, i.e. to the deleted record
    app.close()
    new = row(saved, "e", 1)

    code, lines = run_verify(saved)

    assert code == 1
    assert f"DELETED   notification {new}: the record it was chained to is missing" in problems(lines)


def test_two_rows_with_swapped_contents_are_both_reported(saved):
    first, second = row(saved, "a", 2), row(saved, "b", 1)
    sql(saved, f"""UPDATE {EVENTS} t SET state = s.state, topic = s.topic FROM {EVENTS} s
                   WHERE (t.notification_id, s.notification_id) IN ((%s, %s), (%s, %s))""",
        (first, second, second, first))

    code, lines = run_verify(saved)

    assert code == 1
    assert [p.split(" (")[0] for p in problems(lines)] == [
        f"EDITED    notification {first}", f"EDITED    notification {second}"]


def test_two_rows_swapped_in_the_log_order_are_reported_as_reordered(saved):
    first, second = row(saved, "c", 1), row(saved, "d", 1)  # the batch's two records
    sql(saved, f"""UPDATE {EVENTS} SET notification_id = CASE notification_id WHEN %s THEN %s
                   ELSE %s END WHERE notification_id IN (%s, %s)""",
        (first, -1, first, first, second))
    sql(saved, f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = -1", (second,))

    code, lines = run_verify(saved)

    assert code == 1
    found = problems(lines)
    assert found and all(p.startswith("REORDERED") for p in found), found


def test_a_row_rewritten_with_a_recomputed_hash_but_without_the_key_is_still_caught(saved):
    edited = row(saved, "b", 2)  # the last record saved alone: nothing chained after it but c, d
    oid, version, topic, state, prev = sql(
        saved, f"SELECT originator_id, originator_version, topic, state, prev_hash FROM {EVENTS} "
        "WHERE notification_id = %s", (edited,))[0]
    forged_state = bytes(state).replace(b"1", b"9")
    forged = link(b"", bytes(prev), oid, version, topic, forged_state)  # attacker has no key
    sql(saved, f"UPDATE {EVENTS} SET state = %s, chain_hash = %s WHERE notification_id = %s",
        (forged_state, forged, edited))

    code, lines = run_verify(saved)

    assert code == 1
    assert f"notification {edited} (aggregate" in "\n".join(problems(lines))


def test_the_wrong_key_fails_every_record_and_says_why(saved):
    code, lines = run_verify(saved, key="not-the-services-key")
    assert code == 1
    assert "  note: no record matches its hash: is CLOSEDLOOP_CHAIN_KEY the services' key?" in lines


def test_an_anchor_kept_elsewhere_catches_a_rewritten_history(saved):
    head = sql(saved, f"SELECT encode(chain_hash, 'hex') FROM {EVENTS} "
               "ORDER BY notification_id DESC LIMIT 1")[0][0]
    assert run_verify(saved, anchor=head)[0] == 0
    sql(saved, f"DELETE FROM {EVENTS} WHERE chain_hash = decode(%s, 'hex')", (head,))
    code, lines = run_verify(saved, anchor=head)
    assert code == 1
    assert f"DELETED   the anchored record {head[:16]}… is not in the log" in problems(lines)


def test_records_stored_before_the_chain_are_counted_and_the_rest_verified(database_url):
    # The store as it was: eventsourcing's own recorder, no hash columns.
    old = toy_app(database_url, PROCESS_RECORDER_TOPIC="eventsourcing.postgres:PostgresProcessRecorder")
    old.increment("a")
    old.increment("a")
    old.close()
    app = toy_app(database_url)  # adds the columns; new events start the chain
    app.increment("a")
    app.increment("b")
    app.close()

    code, lines = run_verify(database_url)

    assert code == 0, lines
    assert lines[0] == "toy.toy_events: 6 records, 3 chained, 3 from before the chain (not verifiable)"
    first_chained = sql(database_url, f"SELECT prev_hash FROM {EVENTS} WHERE prev_hash IS NOT NULL "
                        "ORDER BY notification_id LIMIT 1")[0][0]
    assert bytes(first_chained) == GENESIS


def test_a_real_service_with_encrypted_events_verifies_through_the_cli(database_url, monkeypatch):
    ensure_schema(database_url, "incidents")
    cipher = "R2VuZXJhdGVkS2V5MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="  # 32 bytes, base64
    app = IncidentsApplication(eventsourcing_env(database_url, "incidents", cipher, KEY),
                               ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)))
    for n in (1, 2):
        app.handle_alert_raised(alert_envelope(f"fp-{n}"), _alert(f"fp-{n}"), Tracking("detector", n))
    app.close()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CLOSEDLOOP_CHAIN_KEY", KEY)

    assert main(["verify", "incidents"]) == 0
    table = sql(database_url, "SELECT table_name FROM information_schema.tables WHERE "
                "table_schema = 'incidents' AND table_name = 'incidentsapplication_events'")[0][0]
    sql(database_url, f"UPDATE incidents.{table} SET state = overlay(state placing '\\xff'::bytea "
        "from 20) WHERE notification_id = (SELECT min(notification_id) FROM incidents." + table + ")")
    assert main(["verify", "incidents"]) == 1


def _alert(alert_id: str):
    from shared.contracts import AlertRaised

    return AlertRaised.model_validate(alert_envelope(alert_id).data)
