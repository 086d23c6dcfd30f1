"""Any filtered view of the board as a table: CSV streamed row by row (with a BOM, so Excel
opens the Chinese right) or an XLSX workbook (XlsxWriter in constant-memory mode), with
Chinese or English column headers."""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import xlsxwriter

# (key, 中文, English): the seed's fields, in the order the board shows them.
COLUMNS = [
    ("ref", "编号", "ID"),
    ("opened_at", "发现时间", "Opened at"),
    ("entity", "门店", "Entity"),
    ("unit", "单位", "Unit"),
    ("region", "区域", "Region"),
    ("severity", "级别", "Severity"),
    ("title", "描述", "Title"),
    ("description", "详细描述", "Description"),
    ("type", "类型", "Type"),
    ("source", "来源", "Source"),
    ("responsible", "负责人", "Responsible"),
    ("status_label", "当前状态", "Status"),
    ("response", "响应时效", "Response"),
    ("response_minutes", "响应用时(分钟)", "Response time (min)"),
    ("planned_close_at", "预计闭环时间", "Planned closure"),
    ("closed_at", "实际闭环时间", "Closed at"),
]
_RESPONSE = {"zh": {"met": "达标", "missed": "超时", "pending": "待响应"},
             "en": {"met": "met", "missed": "missed", "pending": "pending"}}


def headers(lang: str) -> list[str]:
    return [zh if lang == "zh" else en for _, zh, en in COLUMNS]


def cells(card: dict[str, Any], lang: str) -> list[Any]:
    """One card as the row's values: times in ISO 8601 with their offset, names not keys."""
    flat = {**card,
            "unit": (card["unit"] or {}).get("name"), "region": (card["region"] or {}).get("name"),
            "status_label": card["status_label"] if lang == "zh" else card["status"],
            "response": _RESPONSE[lang][card["response"]["state"]],
            "response_minutes": round(card["response"]["seconds"] / 60, 1)}
    return [_text(flat.get(key)) for key, _, _ in COLUMNS]


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


async def csv_lines(cards: AsyncIterator[dict[str, Any]], lang: str) -> AsyncIterator[str]:
    yield "\ufeff" + _line(headers(lang))
    async for card in cards:
        yield _line(cells(card, lang))


async def xlsx_file(cards: AsyncIterator[dict[str, Any]], lang: str) -> bytes:
    """The workbook's bytes; rows go to a temporary file as they come (constant memory)."""
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        book = xlsxwriter.Workbook(out.name, {"constant_memory": True})
        sheet = book.add_worksheet("看板" if lang == "zh" else "Board")
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, headers(lang), bold)
        sheet.freeze_panes(1, 0)
        row = 1
        async for card in cards:
            sheet.write_row(row, 0, cells(card, lang))
            row += 1
        book.close()
        out.seek(0)
        return out.read()
