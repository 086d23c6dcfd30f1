"""Every piece of page text in Chinese and English; `t(key)` picks the visitor's language."""
from __future__ import annotations

from services.console.incident_text import INCIDENT_TEXT
from services.console.i18n_reports import REPORTS_TEXT
from services.console.oncall_text import ONCALL_TEXT
from services.console.rules_text import RULES_TEXT

TEXT: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "product": ("闭环控制台", "closedloop console"),
    "board": ("看板", "Board"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "api_key": ("API 密钥", "API key"),
    "your_name": ("您的姓名（与密钥绑定的人）", "Your name (the person the key is bound to)"),
    "sign_in_hint": ("使用各服务已配置的 API 密钥登录；操作以您的身份记录。",
                     "Sign in with an API key the services know; actions are recorded as you."),
    "unknown_key": ("密钥无效：服务不认识这个 API 密钥。", "The services do not know this API key."),
    "csrf_refused": ("表单已过期，请重试。", "The form expired; please try again."),
    "service_down": ("服务不可用：", "Service unavailable: "),
    "search": ("搜索", "Search"),
    "search_hint": ("编号、对象或标题", "ref, entity or title"),
    "all_severities": ("全部级别", "All severities"),
    "filter": ("筛选", "Filter"),
    "responsible": ("负责人", "Responsible"),
    "nobody": ("无人", "nobody"),
    "at_risk": ("即将超时", "at risk"),
    "overdue": ("已超时", "overdue"),
    "live": ("实时更新", "live"),
    "severity": ("级别", "Severity"),
    "status": ("状态", "Status"),
    "entity": ("对象", "Entity"),
    "opened_at": ("创建时间", "Opened"),
    "respond_by": ("响应期限", "Respond by"),
    "resolve_by": ("解决期限", "Resolve by"),
    "close_by": ("闭环期限", "Close by"),
    "acknowledged": ("已确认", "Acknowledged"),
    "raci": ("RACI 角色", "RACI"),
    "raci_responsible": ("负责 (R)", "Responsible (R)"),
    "raci_accountable": ("批准 (A)", "Accountable (A)"),
    "raci_consulted": ("咨询 (C)", "Consulted (C)"),
    "raci_informed": ("知会 (I)", "Informed (I)"),
    "timeline": ("时间线", "Timeline"),
    "when": ("时间", "When"),
    "who": ("谁", "Who"),
    "what": ("做了什么", "What"),
    "acknowledge": ("确认接手", "Acknowledge"),
    "note": ("备注", "Note"),
    "by": ("操作人", "By"),
    "done_acknowledged": ("已确认接手。", "Acknowledged."),
    "not_found": ("找不到这个事件。", "No such incident."),
    "error": ("出错了，请稍后重试。", "Something went wrong; please try again later."),
    "empty": ("暂无", "none"),
    "back_to_board": ("返回看板", "Back to the board"),
    "time_left": ("剩余 {}", "{} left"),
    "time_late": ("已超时 {}", "{} overdue"),
    "status_new": ("新建", "New"),
    "status_investigating": ("调查中", "Investigating"),
    "status_planning": ("方案制定中", "Planning"),
    "status_executing": ("执行中", "Executing"),
    "status_verifying": ("验证中", "Verifying"),
    "status_observing": ("观察中", "Observing"),
    "status_closed": ("已闭环", "Closed"),
    "status_archived": ("已归档", "Archived"),
    **INCIDENT_TEXT,
}

TEXT.update(RULES_TEXT)
TEXT.update(ONCALL_TEXT)
TEXT.update(REPORTS_TEXT)


def translator(lang: str):
    index = 0 if lang == "zh" else 1

    def t(key: str) -> str:
        return TEXT[key][index] if key in TEXT else key

    return t
