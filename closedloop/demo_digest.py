"""The stores story's low-severity side, the seed's 轻度预警 → 日报汇总: a daily-digest policy
for P3 tells the 店长 and the 战区运营 nothing at once; two minor alerts on stores come in
while the red alert plays (one is resolved), and the next morning at 09:00 Asia/Shanghai
(the clocks moved, not slept) each of them gets one daily report of what fired, what is
still open and what was resolved."""
from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from closedloop.demo import wait_for
from closedloop.demo_messages import message_of

DIGEST_AT, DIGEST_ZONE = "09:00", "Asia/Shanghai"  # the policy's, and its people's clock
SETTLED = {"delivered", "failed", "skipped"}
# (store, its name, alert name, summary, resolved during the story by)
MINOR_ALERTS = (
    ("store-017", "深圳宝安店", "PriceTagMismatch", "价签与系统价格不一致 3 处", None),
    ("store-023", "广州天河店", "ReceiptPrinterPaperLow", "收银台 2 号小票打印机缺纸",
     "黄伟 (店长)"),
)


class DailyReport:
    """Mixed into StoresDemo (call, tell, advance, policies, suffix, names)."""

    def define_digest_policy(self) -> None:
        self.digest_policy = f"demo store-daily{self.suffix}"
        if self.digest_policy not in self.policies():
            self.call("notifier", "POST", "/v1/policies", json={
                "name": self.digest_policy, "severities": ["P3"], "digest": "daily",
                "digest_at": DIGEST_AT, "steps": [{"targets": [
                    {"kind": "role", "ref": "店长"}, {"kind": "role", "ref": "战区运营"}],
                    "delay_seconds": 600}]})

    def raise_minor_alerts(self) -> list[dict[str, Any]]:
        """As Alertmanager sends an `info` alert (P3); once each is in its people's digests,
        the one that gets fixed is resolved."""
        self.minor: list[dict[str, Any]] = []
        for store, name, alert, summary, fixed_by in MINOR_ALERTS:
            fingerprint = f"demo-minor-{uuid.uuid4().hex[:16]}"
            self.call("detector", "POST", "/v1/ingest/alertmanager", json=[{
                "labels": {"alertname": alert, "severity": "info", "store": store,
                           "region": "south"},
                "annotations": {"summary": f"{name}: {summary}"},
                "fingerprint": fingerprint}])
            incident = wait_for(f"the P3 incident on {name}", lambda fp=fingerprint: next(
                (i for i in self.call("incidents", "GET", "/v1/incidents",
                                      params={"severity": "P3", "limit": 500})["items"]
                 if i["fingerprint"] == fp), None))
            self.minor.append({**incident, "store_name": name, "fixed_by": fixed_by})
        for incident in self.minor:
            wait_for(f"{incident['ref']} in a digest", lambda i=incident: self.digests_of([i]))
        for incident in (i for i in self.minor if i["fixed_by"]):
            self.call("incidents", "POST", f"/v1/incidents/{incident['ref']}/resolve", json={
                "by": incident["fixed_by"], "summary": "已更换纸卷"})
            wait_for(f"{incident['ref']}'s resolution in its digests", lambda i=incident: all(
                d["incidents"][i["id"]] in ("resolved", "closed") for d in self.digests_of([i])))
        return self.minor

    def digests_of(self, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = {i["id"] for i in incidents}
        return [d for d in self.call("notifier", "GET", "/v1/digests",
                                     params={"limit": 1000})["items"]
                if ids & set(d["incidents"])]

    def daily_report(self) -> list[dict[str, Any]]:
        """Move every clock to the end of the minor alerts' digest period (the next 09:00 on
        the recipients' clock after they came in) and read back each digest sent then, with
        the message its recipient got."""
        now = _instant(self.call("notifier", "GET", "/v1/clock")["now"])
        at = min(_instant(d["due_at"]) for d in self.digests_of(self.minor))
        seconds = max(math.ceil((at - now).total_seconds()), 0)
        if seconds:  # else the story itself outlasted the period: they went out on time
            self.advance(seconds)
        hours, minutes = divmod(seconds // 60, 60)
        self.tell(f"the daily report's time: every clock moved {hours}h{minutes:02d}min, to "
                  f"{at.astimezone(ZoneInfo(DIGEST_ZONE)):%Y-%m-%d %H:%M} {DIGEST_ZONE}: "
                  "the daily reports go out")

        def sent() -> list[dict[str, Any]] | None:
            due = [d for d in self.digests_of(self.minor) if _instant(d["due_at"]) == at]
            return due if due and all(d["status"] == "sent" for d in due) else None

        reports = []
        for digest in sorted(wait_for("the daily reports", sent),
                             key=lambda d: (d["person"] or "", d["recipient"])):
            content = self.call("notifier", "GET", f"/v1/digests/{digest['id']}")
            delivery = wait_for("the daily report sent", lambda d=digest: (lambda found: found
                                if found["status"] in SETTLED else None)(self.call(
                                    "notifier", "GET", f"/v1/deliveries/{d['delivery_id']}")))
            handle = digest["person"]
            reports.append({
                "digest": digest, "counts": content["counts"], "handle": handle,
                "status": delivery["status"],
                "who": f"{self.names().get(handle, handle)} ({handle})" if handle
                else digest["channel_name"],
                "message": message_of(self.call, digest["delivery_id"])})
        return reports


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
