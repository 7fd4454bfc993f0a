"""The report's own words in each staff language; keys (categories, clocks, departments) are
worded by the label tables in the templates folder (daemon.labels)."""

from __future__ import annotations

from collections.abc import Mapping

from daemon.labels import Labels

LANGUAGES = ("zh-CN", "zh-TW", "en")

_PHRASES: Mapping[str, Mapping[str, str]] = {
    "zh-CN": {
        "weekly": "投诉周报",
        "monthly": "投诉月报",
        "desk": "全店",
        "period": "统计期间",
        "tickets": "工单",
        "opened": "新登记",
        "resolved": "处理完毕",
        "closed": "结案",
        "reopened": "重新处理",
        "open_at_end": "期末未结",
        "clocks": "各时限",
        "clock": "时限",
        "due": "应完成",
        "on_time": "按时",
        "missed": "超时",
        "on_time_rate": "准时率",
        "satisfaction": "满意度",
        "surveyed": "回访",
        "satisfied": "满意",
        "unsatisfied": "不满意",
        "no_answer": "未答复",
        "rate": "满意率",
        "mean": "平均评分",
        "backlog": "未结工单账龄（工作日）",
        "age": "账龄",
        "categories": "按类别的投诉",
        "category": "类别",
        "count": "件数",
        "penalties": "每人罚款",
        "person": "人员",
        "role": "身份",
        "handler": "处理人",
        "manager": "经理",
        "recurring": "重复投诉连带",
        "amount": "金额（元）",
        "total": "合计",
        "trend": "各时限准时率（近 8 周）",
        "week": "周",
        "none": "（无）",
        "no_penalties": "本期无罚款。",
        "attached": "附件为同样数据的 Excel 工作簿，含图表。",
        "unit_count": "件",
        "unit_money": "元",
        "unit_percent": "%",
    },
    "zh-TW": {
        "weekly": "投訴週報",
        "monthly": "投訴月報",
        "desk": "全店",
        "period": "統計期間",
        "tickets": "工單",
        "opened": "新登記",
        "resolved": "處理完畢",
        "closed": "結案",
        "reopened": "重新處理",
        "open_at_end": "期末未結",
        "clocks": "各時限",
        "clock": "時限",
        "due": "應完成",
        "on_time": "按時",
        "missed": "逾時",
        "on_time_rate": "準時率",
        "satisfaction": "滿意度",
        "surveyed": "回訪",
        "satisfied": "滿意",
        "unsatisfied": "不滿意",
        "no_answer": "未答覆",
        "rate": "滿意率",
        "mean": "平均評分",
        "backlog": "未結工單帳齡（工作日）",
        "age": "帳齡",
        "categories": "按類別的投訴",
        "category": "類別",
        "count": "件數",
        "penalties": "每人罰款",
        "person": "人員",
        "role": "身分",
        "handler": "處理人",
        "manager": "經理",
        "recurring": "重複投訴連帶",
        "amount": "金額（元）",
        "total": "合計",
        "trend": "各時限準時率（近 8 週）",
        "week": "週",
        "none": "（無）",
        "no_penalties": "本期無罰款。",
        "attached": "附件為同樣數據的 Excel 活頁簿，含圖表。",
        "unit_count": "件",
        "unit_money": "元",
        "unit_percent": "%",
    },
    "en": {
        "weekly": "Weekly complaints report",
        "monthly": "Monthly complaints report",
        "desk": "whole dealership",
        "period": "Period",
        "tickets": "Tickets",
        "opened": "Opened",
        "resolved": "Resolved",
        "closed": "Closed",
        "reopened": "Reopened",
        "open_at_end": "Open at the end",
        "clocks": "Clocks",
        "clock": "Clock",
        "due": "Due",
        "on_time": "On time",
        "missed": "Missed",
        "on_time_rate": "On-time rate",
        "satisfaction": "Satisfaction",
        "surveyed": "Surveyed",
        "satisfied": "Satisfied",
        "unsatisfied": "Unsatisfied",
        "no_answer": "No answer",
        "rate": "Satisfaction rate",
        "mean": "Mean score",
        "backlog": "Open tickets by age (working days)",
        "age": "Age",
        "categories": "Complaints by category",
        "category": "Category",
        "count": "Tickets",
        "penalties": "Penalties by person",
        "person": "Person",
        "role": "As",
        "handler": "handler",
        "manager": "manager",
        "recurring": "recurring complaints",
        "amount": "Amount (CNY)",
        "total": "Total",
        "trend": "On-time rate per clock, last 8 weeks",
        "week": "Week",
        "none": "(none)",
        "no_penalties": "No penalties in this period.",
        "attached": "The attached Excel workbook holds the same figures, with charts.",
        "unit_count": "tickets",
        "unit_money": "CNY",
        "unit_percent": "%",
    },
}


class Words:
    """The report's phrases and the label table of one language."""

    def __init__(self, language: str, labels: Labels) -> None:
        self.language = language if language in _PHRASES else "en"
        self.labels = labels
        self._phrases = _PHRASES[self.language]

    def __call__(self, phrase: str) -> str:
        return self._phrases[phrase]

    def key(self, value: str, kind: str) -> str:
        """A key (category, clock, department ...) as a word; '(none)' for an empty one."""
        return self.labels.word(value, kind) if value else self("none")

    def rate(self, value: float | None) -> str:
        """A rate as a percentage; a dash when nothing was in the denominator."""
        return "—" if value is None else f"{value * 100:.1f}%"
