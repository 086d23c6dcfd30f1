"""How fast the board reads with a large history: 100,000 incidents and 1,000,000 timeline
notes (progress updates, folded into their cards' search text as the projection does) in the
read model, written with COPY (the bench measures reads; the projection's own writes are
measured by bench_incidents). Then the
board, the filtered list and Chinese/English search through the real HTTP API, each asked
many times: prints p50/p99 per query (targets: p99 < 100 ms board, < 200 ms search) and the
plan of a search (which index served it).

Run: .venv/bin/python -m tests.bench.bench_board [INCIDENTS] [NOTES] [REPEATS]
     (default 100000 1000000 200)"""
from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx

from services.incidents.board_search import searchable
from services.incidents.board_views import BoardProjection, card_text
from services.incidents.domain import Status
from services.incidents.main import create_app
from services.incidents.projections import IncidentsProjection
from services.incidents.settings import IncidentsSettings
from shared.readmodels import quoted
from tests.bench.infra import percentile, servers
from tests.harness import API_KEYS, VIEWER_KEY, RunningService

CITIES = {"华南区": ["深圳", "广州", "东莞", "佛山"], "华东区": ["上海", "杭州", "南京", "苏州"],
          "华北区": ["北京", "天津", "石家庄", "济南"], "西南区": ["成都", "重庆", "昆明", "贵阳"]}
DISTRICTS = ["宝安", "南山", "福田", "天河", "海珠", "浦东", "徐汇", "西湖", "朝阳", "海淀",
             "武侯", "锦江", "江北", "渝中", "五华", "南明", "越秀", "鼓楼", "滨江", "龙岗"]
TITLES = ["收银机无法开机", "POS payment timeout", "冷柜温度过高", "会员系统登录失败",
          "外卖订单积压", "network outage at store", "库存同步延迟", "顾客投诉服务态度",
          "打印机卡纸", "checkout latency p99 above 800 ms", "门店断电", "支付网关超时"]
NOTES = ["已联系店长确认现场情况", "vendor engaged, rollback in progress", "重启收银机后恢复",
         "等待厂商备件到货", "root cause: expired certificate", "已安排技术人员上门",
         "顾客已安抚并补偿优惠券", "monitoring after fix, metric improving", "切换备用线路",
         "区域负责人已知悉", "database failover completed", "复盘会议定于周五"]
RARE = ["保险丝", "cutover", "冷凝器", "firmware"]
STATUSES = [str(s) for s in Status]
WEIGHTS = [3, 5, 4, 4, 2, 2, 40, 40]  # most of a long history is closed or archived
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def stores() -> list[tuple[str, list[dict[str, str]]]]:
    found = []
    for region, cities in CITIES.items():
        for city in cities:
            for district in DISTRICTS:
                name = f"{city}{district}店"
                found.append((name, [{"key": f"r-{region}", "name": region},
                                     {"key": f"c-{city}", "name": city},
                                     {"key": f"s-{name}", "name": name}]))
    return found


def incidents(n: int, rng: random.Random):
    places = stores()
    for i in range(n):
        status = rng.choices(STATUSES, WEIGHTS)[0]
        severity = rng.choice(["P0", "P1", "P2", "P2", "P3", "P3"])
        opened = START + timedelta(minutes=i * 7 + rng.randint(0, 6))
        entity, path = rng.choice(places)
        title = rng.choice(TITLES)
        acknowledged = opened + timedelta(minutes=rng.randint(1, 40))
        finished = status in ("closed", "archived")
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128)), "ref": f"{severity}-{opened:%Y-%m}-{i:06d}",
            "status": status, "severity": severity, "title": title, "entity": entity,
            "opened_at": opened, "acknowledged_at": None if status == "new" else acknowledged,
            "closed_at": opened + timedelta(days=2) if finished else None,
            "respond_by": opened + timedelta(minutes=15), "resolve_by": opened + timedelta(hours=4),
            "responsible": f"person-{rng.randint(1, 300)}", "path": path,
            "type": rng.choice(["pos", "cold-chain", "payment", "service", None]),
            "source": rng.choice(["phone", "im", "ticket", "rule"]),
        }


async def load(db_url: str, n: int, notes: int, rng: random.Random) -> None:
    conn = await asyncpg.connect(db_url)
    schema = "incidents"
    main = quoted(IncidentsProjection().version_schema(schema))
    board = quoted(BoardProjection().version_schema(schema))
    rows = list(incidents(n, rng))
    for table in (f"{main}.incidents", f"{board}.board_cards"):
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # no 100k NOTIFYs
    await conn.copy_records_to_table(
        "incidents", schema_name=main.strip('"'),
        columns=["id", "ref", "status", "severity", "title", "entity", "fingerprint", "opened_at",
                 "acknowledged_at", "closed_at", "respond_by", "resolve_by", "responsible"],
        records=[(r["id"], r["ref"], r["status"], r["severity"], r["title"], r["entity"],
                  f"fp-{r['ref']}", r["opened_at"], r["acknowledged_at"], r["closed_at"],
                  r["respond_by"], r["resolve_by"], r["responsible"]) for r in rows])
    notes_of: list[list[str]] = [[] for _ in rows]
    for k in range(notes):
        notes_of[k % n].append(rng.choice(NOTES) + ("" if rng.random() > 0.001 else
                                                     " " + rng.choice(RARE)))
    cards = []
    for r, written in zip(rows, notes_of):
        text, keys = card_text(r["ref"], r["entity"], r["title"], "", r["path"],
                               "\n".join(searchable(w) for w in written))
        units = sorted({u["key"] for u in r["path"]} | {u["name"] for u in r["path"]})
        cards.append((r["id"], r["ref"], r["opened_at"], r["entity"], r["title"], "", r["type"],
                      r["source"], json.dumps(r["path"], ensure_ascii=False), units, text, keys))
    await conn.copy_records_to_table(
        "board_cards", schema_name=board.strip('"'),
        columns=["id", "ref", "opened_at", "entity", "title", "description", "type", "source",
                 "unit_path", "unit_keys"], records=[c[:10] for c in cards])
    await conn.copy_records_to_table(
        "board_search", schema_name=board.strip('"'),
        columns=["id", "search_text", "search_grams"], records=[(c[0], *c[10:]) for c in cards])
    for table in (f"{main}.incidents", f"{board}.board_cards"):
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    await conn.execute(f"INSERT INTO {main}.board_counts SELECT status, severity, count(*) "
                       f"FROM {main}.incidents GROUP BY 1, 2")  # what the trigger would keep
    for table in (f"{main}.incidents", f"{board}.board_cards", f"{board}.board_search"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()


QUERIES = {
    "board": ("/v1/board", {}),
    "board P0": ("/v1/board", {"severity": "P0"}),
    "board unit=华南区": ("/v1/board", {"unit": "华南区"}),
    "board entity": ("/v1/board", {"entity": "深圳宝安店"}),
    "board overdue": ("/v1/board", {"overdue": "true"}),
    "board owner+range": ("/v1/board", {"owner": "person-7", "from": "2025-06-01T00:00:00Z",
                                        "to": "2025-09-01T00:00:00Z"}),
    "list 50": ("/v1/incidents", {"limit": 50}),
    "list unit+P1": ("/v1/incidents", {"unit": "c-深圳", "severity": "P1", "limit": 50}),
}
SEARCHES = {
    "q=宝安 (board)": ("/v1/board", {"q": "宝安"}),
    "q=宝安 (list)": ("/v1/incidents", {"q": "宝安", "limit": 50}),
    "q=深圳宝安店": ("/v1/incidents", {"q": "深圳宝安店", "limit": 50}),
    "q=备件 (notes)": ("/v1/incidents", {"q": "备件", "limit": 50}),
    "q=保险丝 (rare note)": ("/v1/incidents", {"q": "保险丝", "limit": 50}),
    "q=rollback (notes)": ("/v1/incidents", {"q": "rollback", "limit": 50}),
    "q=firmware (rare)": ("/v1/incidents", {"q": "firmware", "limit": 50}),
    "q=深圳 超时": ("/v1/incidents", {"q": "深圳 超时", "limit": 50}),
    "q=收银 (board)": ("/v1/board", {"q": "收银"}),
}


def measure(client: httpx.Client, queries: dict, repeats: int) -> None:
    for name, (path, params) in queries.items():
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        found = response.json()["total"]
        took = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            took.append((time.perf_counter() - started) * 1000)
        print(f"  {name:<24} {found:>7} found   p50 {percentile(took, 50):7.1f} ms   "
              f"p99 {percentile(took, 99):7.1f} ms")


async def plan(db_url: str) -> None:
    """Which indexes serve a Chinese and an English search (EXPLAIN, not timed)."""
    conn = await asyncpg.connect(db_url)
    await conn.execute("SET search_path TO " + ", ".join(
        quoted(p.version_schema("incidents")) for p in (IncidentsProjection(), BoardProjection())))
    for term, keys in (("宝安", ["宝安"]), ("保险丝", ["保险", "险丝"]), ("firmware", [])):
        where = (f"search_grams @> ARRAY{keys}::text[] AND " if keys else "") + \
            f"search_text LIKE '%{term}%'"
        lines = await conn.fetch(f"EXPLAIN SELECT i.id FROM incidents i WHERE i.id IN (SELECT id "
                                 f"FROM board_search WHERE {where}) ORDER BY i.opened_at DESC "
                                 "LIMIT 50")
        used = [r[0].strip().lstrip("-> ") for r in lines if "Index" in r[0] and "Cond" not in r[0]]
        print(f"  plan of q={term}: {'; '.join(used) or 'no index'}")
    await conn.close()


def main(args: list[str]) -> None:
    n = int(args[0]) if args else 100_000
    notes = int(args[1]) if len(args) > 1 else 1_000_000
    repeats = int(args[2]) if len(args) > 2 else 200
    with servers() as (nats_url, db_url):
        service = RunningService(create_app(IncidentsSettings(
            database_url=db_url, nats_url=nats_url, api_keys=API_KEYS))).start()
        try:
            started = time.perf_counter()
            asyncio.run(load(db_url, n, notes, random.Random(13)))
            print(f"board bench: {n} incidents and {notes} notes loaded with COPY in "
                  f"{time.perf_counter() - started:.0f} s")
            asyncio.run(plan(db_url))
            with httpx.Client(base_url=service.url, headers={"X-API-Key": VIEWER_KEY},
                              timeout=30) as client:
                print(f"board queries over HTTP ({repeats} each):")
                measure(client, QUERIES, repeats)
                print(f"search ({repeats} each):")
                measure(client, SEARCHES, repeats)
        finally:
            service.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
