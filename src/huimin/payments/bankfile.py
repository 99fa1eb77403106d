"""The bank file a batch is sent as, and the return file the bank sends back (CSV, UTF-8)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from huimin.errors import FileRejected, RowError
from huimin.lib.money import InvalidAmount, fen_to_yuan, yuan_to_fen

EXPORT_HEADER = ["流水号", "户名", "账号", "开户银行", "金额", "用途"]
RETURN_HEADER = ["流水号", "账号", "金额", "处理结果", "失败原因"]
PAID_WORDS = {"成功", "SUCCESS", "PAID"}
FAILED_WORDS = {"失败", "FAILED", "FAIL"}


@dataclass(frozen=True)
class ExportLine:
    reference: str
    payee_name: str
    account: str
    bank_name: str
    amount_fen: int
    purpose: str


def render_export(lines: Iterable[ExportLine]) -> bytes:
    """Deterministic bytes: the same batch always gives the same file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    count = 0
    total = 0
    for line in lines:
        writer.writerow([line.reference, line.payee_name, line.account, line.bank_name,
                         fen_to_yuan(line.amount_fen), line.purpose])
        count += 1
        total += line.amount_fen
    writer.writerow(["合计", f"{count} 笔", "", "", fen_to_yuan(total), ""])
    return buf.getvalue().encode("utf-8")


@dataclass(frozen=True)
class ReturnLine:
    row: int
    reference: str
    account: str
    amount_fen: int
    paid: bool
    reason: str


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected("文件编码无法识别（应为 UTF-8 或 GBK）", [])


def parse_return(data: bytes) -> list[ReturnLine]:
    """Parse a bank return; any bad row refuses the whole file with every error listed."""
    rows = list(csv.reader(io.StringIO(decode(data))))
    if not rows or [c.strip() for c in rows[0]] != RETURN_HEADER:
        raise FileRejected(
            "回盘文件表头不符，应为：" + ",".join(RETURN_HEADER),
            [RowError(1, "表头", "应为 " + ",".join(RETURN_HEADER))],
        )
    out: list[ReturnLine] = []
    errors: list[RowError] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 4:
            errors.append(RowError(n, "整行", f"应有 {len(RETURN_HEADER)} 列，实有 {len(row)} 列"))
            continue
        ref, account, amount, result = (c.strip() for c in row[:4])
        reason = row[4].strip() if len(row) > 4 else ""
        try:
            fen = yuan_to_fen(amount)
        except InvalidAmount as exc:
            errors.append(RowError(n, "金额", str(exc)))
            continue
        if result.upper() in PAID_WORDS:
            paid = True
        elif result.upper() in FAILED_WORDS:
            paid = False
            if not reason:
                errors.append(RowError(n, "失败原因", "处理结果为失败时须有失败原因"))
                continue
        else:
            errors.append(RowError(n, "处理结果", f"「{result}」应为 成功 或 失败"))
            continue
        out.append(ReturnLine(n, ref, account, fen, paid, reason))
    if errors:
        raise FileRejected(f"回盘文件有 {len(errors)} 处错误，整个文件未导入", errors)
    return out
