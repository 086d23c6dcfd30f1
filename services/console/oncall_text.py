"""Page text of the on-call page, zh and en."""
from __future__ import annotations

ONCALL_TEXT: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "oncall": ("值班", "On call"),
    "oncall_now": ("当前值班", "On call now"),
    "schedule": ("排班", "Schedule"),
    "time_zone": ("时区", "Time zone"),
    "until": ("至", "until"),
    "nobody_on_call": ("无人值班", "nobody on call"),
    "set_aside": ("被替换", "set aside"),
    "by_unit": ("各单位负责人", "Per unit"),
    "unit": ("单位", "Unit"),
    "unresolved": ("无法确定", "unresolved"),
    "week_of": ("周历", "Week of"),
    "previous_week": ("上一周", "Previous week"),
    "this_week": ("本周", "This week"),
    "next_week": ("下一周", "Next week"),
    "override": ("临时调整", "override"),
    "no_schedules": ("还没有排班。", "No schedules yet."),
    "no_shifts": ("—", "—"),
    "weekday_0": ("周一", "Mon"), "weekday_1": ("周二", "Tue"), "weekday_2": ("周三", "Wed"),
    "weekday_3": ("周四", "Thu"), "weekday_4": ("周五", "Fri"), "weekday_5": ("周六", "Sat"),
    "weekday_6": ("周日", "Sun"),
}
