"""`closedloop verify <service>`: walk a service's stored events in notification order,
recompute their hash chain and report every edited, deleted or reordered record."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
from psycopg import IsolationLevel
from psycopg.sql import SQL, Identifier

from shared.chain import head_table_name
from shared.chain_audit import ChainAudit, Record

MAX_LISTED = 50  # problems printed one by one; the rest are counted


def verify(service: str, database_url: str, key: str, anchor: str = "",
           out: Callable[[str], None] = print) -> int:
    """Print the report; 0 when the log is intact, 1 on any problem."""
    with psycopg.connect(database_url) as conn:
        # One snapshot for the walk and the head row: a save landing meanwhile is not seen
        # by either, so it cannot look like a missing or extra record.
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            tables = event_tables(conn, service)
            if not tables:
                raise SystemExit(f"no event store for {service!r} in this database "
                                 f"(schema {service!r} holds no events table)")
            ok = True
            for table in tables:
                ok &= verify_table(conn, service, table, key.encode(),
                                   bytes.fromhex(anchor) if anchor else None, out)
    return 0 if ok else 1


def verify_table(conn: psycopg.Connection, schema: str, table: str, key: bytes,
                 anchor: bytes | None, out: Callable[[str], None]) -> bool:
    audit = ChainAudit(key=key, anchor=anchor)
    for record in records(conn, schema, table):
        audit.add(record)
    problems = audit.finish(head_row(conn, schema, table))
    out(f"{schema}.{table}: {audit.chained + audit.before_chain:,} records, "
        f"{audit.chained:,} chained, {audit.before_chain:,} from before the chain (not verifiable)")
    if audit.head:
        out(f"  head: notification {audit.head[0]}  {audit.head[1].hex()}")
    if not key:
        out("  note: the chain is unkeyed (CLOSEDLOOP_CHAIN_KEY is not set): whoever can write "
            "the database can recompute it; keep the head above somewhere else")
    elif audit.chained and not audit.intact:
        out("  note: no record matches its hash: is CLOSEDLOOP_CHAIN_KEY the services' key?")
    snapshots = snapshot_count(conn, schema, table)
    if snapshots:
        out(f"  {snapshots:,} snapshots not covered (a cache of the events: safe to delete)")
    for problem in problems[:MAX_LISTED]:
        out(f"  {problem}")
    if len(problems) > MAX_LISTED:
        out(f"  … and {len(problems) - MAX_LISTED} more")
    out(f"  {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return not problems


def event_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """The schema's event tables: the ones with both a notification id and a state."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
        "AND column_name IN ('notification_id', 'state') GROUP BY table_name "
        "HAVING count(*) = 2 ORDER BY table_name", (schema,)).fetchall()
    return [row[0] for row in rows]


def records(conn: psycopg.Connection, schema: str, table: str) -> Iterator[Record]:
    chained = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name = 'chain_hash'", (schema, table)).fetchone()
    hashes = SQL("prev_hash, chain_hash") if chained else SQL("NULL, NULL")
    query = SQL("SELECT notification_id, originator_id, originator_version, topic, state, {} "
                "FROM {}.{} ORDER BY notification_id").format(hashes, Identifier(schema),
                                                              Identifier(table))
    with conn.cursor(name="closedloop_verify") as curs:  # server side: streams, not loads
        curs.itersize = 2000
        curs.execute(query)
        for nid, oid, version, topic, state, prev, own in curs:
            yield Record(nid, oid, version, topic, bytes(state or b""),
                         None if prev is None else bytes(prev), None if own is None else bytes(own))


def head_row(conn: psycopg.Connection, schema: str, table: str) -> tuple[bytes, int] | None:
    head = head_table_name(table)
    if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{head}"',)).fetchone()[0] is None:
        return None
    row = conn.execute(SQL("SELECT chain_hash, records FROM {}.{}").format(
        Identifier(schema), Identifier(head))).fetchone()
    return (bytes(row[0]), row[1]) if row else None


def snapshot_count(conn: psycopg.Connection, schema: str, table: str) -> int:
    snapshots = table.removesuffix("_events") + "_snapshots"
    if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{snapshots}"',)).fetchone()[0] is None:
        return 0
    return conn.execute(SQL("SELECT count(*) FROM {}.{}").format(
        Identifier(schema), Identifier(snapshots))).fetchone()[0]
