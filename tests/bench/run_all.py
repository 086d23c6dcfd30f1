"""`make bench`: every benchmark, one after the other."""
import asyncio

from tests.bench import bench_bus, bench_latency

if __name__ == "__main__":
    print("== bus ==")
    asyncio.run(bench_bus.main(5000))
    print("\n== sample → notification latency ==")
    bench_latency.main(50)
