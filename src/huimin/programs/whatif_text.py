"""Rule-document errors in Chinese for the what-if page: the document checker speaks to rule
authors in English; a county office reads the same reason, with its line, in Chinese."""

from __future__ import annotations

import re

from huimin.rules.errors import DocumentError, RulesError

_PATTERNS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), zh) for p, zh in (
    (r"^not valid YAML: (.*)$", r"不是有效的 YAML（\1）"),
    (r"^cannot read: (.*)$", r"无法读取（\1）"),
    (r"^duplicate key '(.*)'$", r"键「\1」重复"),
    (r"^key (.*) is not text$", r"键 \1 不是文字"),
    (r"^unknown key '(.*)' in (.*)$", r"\2 中有未知的键「\1」"),
    (r"^(.*) lacks required key '(.*)'$", r"\1 缺少必需的键「\2」"),
    (r"^(.*) must be a mapping$", r"\1 应为键值表"),
    (r"^(.*) must be a date YYYY-MM-DD$", r"\1 应为日期（YYYY-MM-DD）"),
    (r"^(.*) must be a date, not a time$", r"\1 应为日期，不能带时间"),
    (r"^(.*) must be an expression \(text\)$", r"\1 应为表达式（文字）"),
    (r"^(.*) must be of type (.*), not (.*)$", r"\1 的类型应为 \2，而不是 \3"),
    (r"^(.*) must be (str|int|bool|list|float)$", r"\1 的类型不对（应为 \2）"),
    (r"^id '(.*)' must be lower-case letters, digits, '-'$",
     r"项目标识「\1」只能用小写字母、数字和 -"),
    (r"^effective.to is before effective.from$",
     r"effective.to（失效日期）早于 effective.from（生效日期）"),
    (r"^criteria needs at least one criterion$", r"criteria（条件）至少需要一条"),
    (r"^duplicate criterion code '(.*)'$", r"条件编号「\1」重复"),
    (r"^amount needs exactly one of monthly_fen or annual_fen$",
     r"amount（金额）须且只能有 monthly_fen 或 annual_fen 之一"),
    (r"^review_chain needs at least one level$", r"review_chain（审核层级）至少需要一级"),
)]


def reason_zh(reason: str) -> str:
    for pattern, zh in _PATTERNS:
        if pattern.match(reason):
            return pattern.sub(zh, reason)
    return f"规则文件不符合格式要求（{reason}）"


def document_error_zh(exc: RulesError, shown_name: str) -> str:
    """``方案文件有误：NAME 第 N 行：reason`` for a document error, else the message with the
    temporary path replaced by the uploaded name."""
    if isinstance(exc, DocumentError):
        where = f"{shown_name} 第 {exc.line} 行" if exc.line is not None else shown_name
        return f"方案文件有误：{where}：{reason_zh(exc.reason)}"
    return f"方案文件有误：{shown_name}：{reason_zh(str(exc))}"
