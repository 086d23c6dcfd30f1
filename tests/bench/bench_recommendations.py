"""How fast capa ranks knowledge entries for an incident: N entries (default 10,000) of mixed
Chinese and English text in the in-memory index a GET /v1/incidents/{id}/recommendations
ranks over, then one recommendation per incident for a stream of new incidents. Prints index
build time and memory, recommendation and search p50/p99; asserts nothing.

Run: .venv/bin/python -m tests.bench.bench_recommendations [ENTRIES] [QUERIES]"""
from __future__ import annotations

import random
import sys
import time
import tracemalloc

from services.capa.knowledge.recommend import Entry, Incident, KnowledgeIndex
from tests.bench.infra import percentile

SERVICES = [f"svc-{i}" for i in range(60)]
RULES = [f"Rule{i}" for i in range(300)]
CATEGORIES = ["man", "machine", "material", "method", "environment", "measurement", "capacity"]
PROBLEMS_ZH = ["数据库连接池耗尽", "磁盘空间不足", "证书过期导致握手失败", "内存泄漏导致重启",
               "消息队列积压", "缓存雪崩", "接口超时", "配置错误导致发布失败", "网络抖动丢包",
               "依赖服务限流", "定时任务重复执行", "日志量暴涨", "线程池满", "死锁", "慢查询"]
PROBLEMS_EN = ["connection pool exhausted", "disk full on log volume", "certificate expired",
               "memory leak after deploy", "queue consumer lag", "cache stampede",
               "upstream timeout", "bad config rollout", "packet loss between zones",
               "rate limited by dependency", "cron job ran twice", "log volume spike",
               "thread pool saturated", "database deadlock", "slow query on orders"]
FIXES = ["扩容", "回滚发布", "raise the limit", "rotate logs", "add an index", "重启实例",
         "renew and automate", "加熔断", "tune GC", "加监控告警"]


def text(rng: random.Random) -> str:
    return " ".join([rng.choice(PROBLEMS_ZH), rng.choice(PROBLEMS_EN), rng.choice(FIXES),
                     rng.choice(FIXES), rng.choice(SERVICES), f"release {rng.randint(1, 999)}"])


def entries(n: int, rng: random.Random) -> list[Entry]:
    return [Entry(id=f"e{i:05d}", text=text(rng), entity=rng.choice(SERVICES),
                  rule=rng.choice(RULES), category=rng.choice(CATEGORIES),
                  labels={"tier": rng.choice(["web", "db", "queue", "batch"]),
                          "team": f"team-{rng.randint(1, 20)}",
                          "region": rng.choice(["cn-east", "cn-north", "eu-west"])},
                  useful=rng.randint(0, 3), not_useful=rng.randint(0, 2))
            for i in range(n)]


def incidents(n: int, rng: random.Random) -> list[Incident]:
    return [Incident(incident_id=f"inc-{i}",
                     title=f"{rng.choice(PROBLEMS_ZH)} {rng.choice(PROBLEMS_EN)}",
                     entity=rng.choice(SERVICES), rule=rng.choice(RULES),
                     labels={"tier": rng.choice(["web", "db"]), "team": "team-3",
                             "category": rng.choice(CATEGORIES)})
            for i in range(n)]


def main(n: int = 10_000, queries: int = 1_000) -> None:
    rng = random.Random(7)
    made = entries(n, rng)
    tracemalloc.start()
    started = time.perf_counter()
    index = KnowledgeIndex()
    for entry in made:
        index.upsert(entry)
    built = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    took, found = [], 0
    for incident in incidents(queries, rng):
        started = time.perf_counter()
        found += len(index.recommend(incident))
        took.append((time.perf_counter() - started) * 1000)
    searched = []
    for _ in range(queries):
        query = rng.choice(PROBLEMS_ZH + PROBLEMS_EN)
        started = time.perf_counter()
        index.search(query)
        searched.append((time.perf_counter() - started) * 1000)

    print(f"{n:,} entries indexed in {built:.2f} s ({built / n * 1e6:.0f} µs each), "
          f"index {memory / 2**20:.0f} MiB (tracemalloc)")
    print(f"recommend, {queries} incidents: p50 {percentile(took, 50):.1f} ms, "
          f"p99 {percentile(took, 99):.1f} ms, max {max(took):.1f} ms; "
          f"{found / queries:.1f} entries each")
    print(f"search, {queries} queries: p50 {percentile(searched, 50):.1f} ms, "
          f"p99 {percentile(searched, 99):.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
