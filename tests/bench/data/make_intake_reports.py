"""Writes intake_reports.jsonl: short zh/en reports labelled with their problem type, drawn
from the store-network scenarios (late parts, complaints, NPS, broken equipment, food safety,
staff attitude, outages, queues, hygiene). Deterministic: the same file every run."""
from __future__ import annotations

import json
import random
from pathlib import Path

STORES = ["深圳宝安店", "广州天河店", "上海徐汇店", "北京朝阳店", "store-017", "store-042", "杭州西湖店"]
WHO = ["顾客", "店长", "巡检员", "客服", "区域经理", "a customer", "the store manager", "an inspector"]

PHRASES = {
    "supplier_delay": [
        "{s}的配件到货超时三天", "供应商说物流延误，货还没到", "{s}补货迟迟没送来，货架空了",
        "订的零件一周了还没到", "冷链车晚到了五个小时", "原料断货，供应商没按时发货",
        "Parts for {s} arrived three days late", "The supplier missed the delivery window again",
        "Shipment of cups still not here at {s}", "Backorder on coffee beans, truck never came",
        "供应商交期一拖再拖", "物料短缺导致无法出餐",
    ],
    "complaint": [
        "{w}打电话投诉要求退款", "{s}收到三条差评", "顾客要求索赔，说被多收了钱", "有顾客打12315投诉",
        "顾客对价格不满，要求给个说法", "会员说积分被扣了很生气",
        "A customer complained about being overcharged at {s}", "Refund demanded for a wrong order",
        "Angry customer wants compensation", "Bad review posted about {s}",
        "顾客在前台吵着要退货", "客诉：外卖漏送两样菜",
    ],
    "nps_drop": [
        "{s}本周NPS下降了15分", "满意度调查分数明显下滑", "净推荐值连续两周降低", "NPS跌到50以下",
        "调查显示推荐意愿大幅下降", "本月顾客满意度最低",
        "NPS at {s} fell 12 points this week", "Satisfaction survey score dropped sharply",
        "Promoter share is the lowest this quarter", "Survey results are much worse than last month",
        "回访评分从4.6掉到3.9", "顾客推荐率走低",
    ],
    "equipment_failure": [
        "{s}的冰柜坏了不制冷", "收银机故障无法开机", "咖啡机漏水，师傅还没来修", "空调停机，店里很热",
        "烤箱温度上不去", "电梯卡在二楼", "制冰机不出冰了",
        "The freezer at {s} broke down overnight", "Oven not working since this morning",
        "Register machine keeps rebooting", "Air conditioning failed in the dining area",
        "Ice machine stopped making ice",
    ],
    "food_safety": [
        "顾客吃了以后拉肚子", "{s}发现过期牛奶还在卖", "面包发霉了", "汤里吃出异物", "沙拉里有虫子",
        "疑似食物中毒，顾客呕吐", "肉类变质有异味还在用",
        "Customer found a hair in the soup at {s}", "Expired yogurt on the shelf",
        "Possible food poisoning after lunch", "Mould on the bread sold today",
        "Chicken served undercooked, customer got sick",
    ],
    "service_attitude": [
        "店员态度恶劣，还骂人", "收银员不耐烦，对顾客很凶", "服务员不理人", "员工和顾客吵架",
        "{s}店员对老人态度很差", "前台接待冷漠",
        "The cashier at {s} was rude", "Staff ignored me for ten minutes",
        "Waiter shouted at a customer", "Unfriendly staff behaviour at the counter",
        "保安对顾客推搡", "店员翻白眼",
    ],
    "system_outage": [
        "小程序打不开", "{s}支付失败，扫码一直转圈", "系统宕机，无法下单", "收银系统崩溃",
        "会员系统无法登录", "全店断网，POS用不了", "外卖平台接单异常",
        "The app is down at {s}", "Payment failed at every till", "Website will not load",
        "POS system crashed during lunch rush", "Cannot log in to the ordering system",
    ],
    "wait_time": [
        "排队等了40分钟", "{s}出餐慢，顾客等太久", "上菜慢，等了一个小时", "结账队伍排到门外",
        "取餐等了半小时", "高峰期等待时间过长",
        "Customers waited 45 minutes at {s}", "The queue went out the door",
        "Slow service, food took an hour", "Long wait at the pickup counter",
        "叫号系统显示还要等30桌", "顾客说等得不耐烦走了",
    ],
    "hygiene": [
        "{s}厕所很脏", "地面不干净有积水", "发现蟑螂", "店里有老鼠", "餐具没洗干净", "后厨有异味",
        "The toilets at {s} are filthy", "Tables were dirty all afternoon",
        "Cockroach seen near the counter", "Bad smell in the dining area",
        "垃圾桶满了没人清理", "苍蝇很多",
    ],
}
PREFIXES = ["", "{w}反映：", "{w}说", "【工单】", "来电：", "", "Report: ", "FYI ", "{w} says: "]
SUFFIXES = ["", "，请尽快处理", "。", "！", " please check", " asap", "，已拍照", ""]


def reports(seed: int = 12, per_type: int = 40) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for problem_type, phrases in PHRASES.items():
        for _ in range(per_type):
            n = rng.randrange(len(phrases))
            text = (rng.choice(PREFIXES) + phrases[n] + rng.choice(SUFFIXES)).format(
                s=rng.choice(STORES), w=rng.choice(WHO))
            # The phrase a report grew from: the bench holds out whole phrases, so a report
            # it scores never shares its wording with one it trained on.
            rows.append({"text": text, "problem_type": problem_type,
                         "phrase": f"{problem_type}:{n}"})
    rng.shuffle(rows)
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("intake_reports.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reports()),
                   encoding="utf-8")
    print(f"wrote {out}")
