"""Text that leaves the system in a spreadsheet or a CSV file, and text that enters it.

Entry: names and bank names may not carry control characters (C0, DEL, C1), line or
paragraph separators (U+2028/2029) or bidirectional controls (U+061C, U+200E/200F,
U+202A–202E, U+2066–2069): ``control_problem`` says which one, in Chinese.

Exit: a cell of user text whose first character is ``= + - @``, a tab or a carriage return
is written with a leading apostrophe (the OWASP convention against formula injection), and
any control character left in older data becomes a space, so that a CSV line is never
split and a spreadsheet never sees a formula. In an XLSX every str is written as a string
cell (openpyxl would otherwise store a str starting with ``=`` as a formula).

Numbers the system makes itself (amounts, account numbers, references, dates) are never
neutralised: they are not user text, and a bank reads them as they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

FORMULA_LEADS = frozenset("=+-@\t\r")
_CONTROL_CLASS = (
    "\x00-\x1f\x7f-\x9f"  # C0, DEL, C1
    "\u2028\u2029"  # line and paragraph separators
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks and overrides
)
CONTROL_RE = re.compile(f"[{_CONTROL_CLASS}]")
# What a vectorised writer (Arrow regex, RE2 syntax) must leave to ``neutralize``.
NEEDS_NEUTRALIZING_RE2 = (r"^[=+\-@\t\r]|[\x{00}-\x{1f}\x{7f}-\x{9f}\x{2028}\x{2029}"
                          r"\x{061c}\x{200e}\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_NAMES = {"\n": "换行", "\r": "回车", "\t": "制表符", "\x00": "空字符"}


def find_control(text: str) -> str | None:
    """The first control character of ``text``, or None."""
    m = CONTROL_RE.search(text)
    return m.group(0) if m else None


def describe(ch: str) -> str:
    """A character for an error message: its code point and, if it has one, its name."""
    name = _NAMES.get(ch) or unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f"（{name}）" if name else "")


def control_problem(text: str) -> str | None:
    """The Chinese reason ``text`` is refused for a control character, or None."""
    ch = find_control(text)
    if ch is None:
        return None
    return f"含不可见的控制字符 {describe(ch)}，请删除后重新填写"


def needs_neutralizing(text: str) -> bool:
    return bool(text) and (text[0] in FORMULA_LEADS or CONTROL_RE.search(text) is not None)


def neutralize(text: str) -> str:
    """User text made safe for a cell: controls become spaces (a leading tab or CR first
    earns the apostrophe), and a formula-leading first character gets an apostrophe."""
    if not text:
        return text
    lead = text[0] in FORMULA_LEADS
    text = CONTROL_RE.sub(" ", text)
    return "'" + text if lead else text


def ascii_digits(text: str) -> bool:
    """Only 0–9 (``str.isdigit`` accepts fullwidth, Arabic-Indic and superscript digits)."""
    return text.isascii() and text.isdigit()


def string_cells(ws: Any, values: Iterable[object]) -> list[object]:
    """A row for ``ws.append`` (openpyxl, normal or write-only) with every str as a string
    cell, never a formula; other values (numbers, dates, None) pass unchanged. Controls,
    which openpyxl refuses, become spaces."""
    from openpyxl.cell import WriteOnlyCell

    out: list[object] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=CONTROL_RE.sub(" ", value))
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(value)
    return out


# ------------------------------------------------------------------ numbers Excel mangled

#: Excel keeps 15 significant digits of a number; an ID or account number typed into a
#: cell not formatted as text loses the rest (shown as 4.45224E+17, stored with zeros)
EXCEL_DIGITS = 15
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")
_POINT_ZERO = re.compile(r"\d+\.0+")
_AS_TEXT = "请把该列设为文本后重新填写"


def excel_mangled(value: object, *, quote: bool = True) -> str | None:
    """Why a cell that should hold a long number as text (an ID or account number) looks
    mangled by Excel, in Chinese; None when it does not. ``quote=False`` leaves out what was
    read (for a reason that is kept and shown where ID numbers are masked)."""

    def read(text: str) -> str:
        return f"（{text}）" if quote else ""

    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(abs(value))
        if len(digits) > EXCEL_DIGITS:
            return (f"看起来被 Excel 当作数字保存，第 {EXCEL_DIGITS + 1} 位起的数字已丢失"
                    f"{read('读到 ' + digits)}，{_AS_TEXT}")
        return None
    if isinstance(value, float):
        return f"看起来被 Excel 转成了小数{read(str(value))}，{_AS_TEXT}"
    text = str(value).strip()
    if _SCIENTIFIC.fullmatch(text):
        return f"看起来被 Excel 转成了科学计数法{read(text)}，{_AS_TEXT}"
    if _POINT_ZERO.fullmatch(text):
        return f"末尾多了「.0」{read(text)}，看起来被 Excel 当作数字保存过，{_AS_TEXT}"
    return None
