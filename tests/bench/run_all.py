"""`make bench`: every benchmark, one after the other."""
import asyncio

from tests.bench import (
    bench_alert_ingest, bench_bus, bench_channels, bench_engine, bench_escalations,
    bench_ingest, bench_latency, bench_messages, bench_nab, bench_oncall, bench_storm,
)
from tests.bench import bench_backtest, bench_board, bench_console, bench_silence
from tests.bench import bench_pd_ingest, bench_predict, bench_recommendations, bench_reports

if __name__ == "__main__":
    print("== bus ==")
    asyncio.run(bench_bus.main(5000))
    print("\n== sample → notification latency ==")
    bench_latency.main(50)
    print("\n== alert storm (Alertmanager batches into the whole stack) ==")
    bench_storm.main([])
    print("\n== people on robots, e-mail and SMS (receivers taking 50 ms) ==")
    bench_channels.main()
    print("\n== rule engine ==")
    bench_engine.main()
    print("\n== predictive alerts ==")
    bench_predict.main()
    print("\n== silent series on the detector's tick ==")
    bench_silence.main()
    print("\n== detector ingest ==")
    bench_ingest.main()
    print("\n== Alertmanager ingest ==")
    bench_alert_ingest.main()
    print("\n== PagerDuty Events v2 beside Alertmanager ==")
    bench_pd_ingest.main()
    print("\n== escalation steps under load ==")
    bench_escalations.main([])
    print("\n== who is on call ==")
    bench_oncall.main()
    print("\n== message rendering ==")
    bench_messages.main()
    print("\n== adaptive scorer on NAB ==")
    bench_nab.main()
    print("\n== backtest replays and a NAB sweep ==")
    bench_backtest.main([])
    print("\n== knowledge recommendations ==")
    bench_recommendations.main()
    print("\n== reports over 100,000 incidents ==")
    bench_reports.main([])
    print("\n== the board and its search ==")
    bench_board.main([])
    print("\n== the console's board with ~10,000 open incidents ==")
    bench_console.main([])
