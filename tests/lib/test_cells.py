"""huimin.lib.cells: text leaving in a spreadsheet or CSV, and control characters entering."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from huimin.lib.cells import (
    ascii_digits,
    control_problem,
    needs_neutralizing,
    neutralize,
    string_cells,
)

ATTACKS = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
           "\t=1", "\r=1"]


@pytest.mark.parametrize("text", ATTACKS)
def test_formula_leading_text_gets_an_apostrophe(text: str) -> None:
    out = neutralize(text)
    assert out.startswith("'") and out[1:].strip() == text.strip()
    assert needs_neutralizing(text)


@pytest.mark.parametrize("text", ["张三", "中国农业银行惠来县支行", "a=b", "O'Brien", ""])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert neutralize(text) == text
    assert not needs_neutralizing(text)


def test_controls_become_spaces_so_a_csv_line_never_splits() -> None:
    out = neutralize("张\n三\x00\u2028\u202e")
    assert out == "张 三   "
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([out, "x"])
    assert buf.getvalue().count("\n") == 1


@pytest.mark.parametrize("ch", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028",
                                "\u2029", "\u202e", "\u2066", "\u200f", "\u061c"])
def test_control_problem_names_the_character(ch: str) -> None:
    problem = control_problem(f"张{ch}三")
    assert problem is not None and f"U+{ord(ch):04X}" in problem


def test_no_control_problem_for_plain_names() -> None:
    assert control_problem("欧阳娜娜") is None
    assert control_problem("Zhang San-Li") is None


@pytest.mark.parametrize("text", ["１２３４５６７８", "١٢٣٤٥٦٧٨", "¹²³⁴⁵⁶⁷⁸", "1234567a", ""])
def test_only_ascii_digits_count(text: str) -> None:
    assert not ascii_digits(text)
    if not text.isascii():
        assert text.isdigit()  # what a bare str.isdigit check let through


def test_ascii_digits() -> None:
    assert ascii_digits("6228480012345678901")


@pytest.mark.parametrize("write_only", [False, True])
def test_string_cells_are_never_formulas(write_only: bool) -> None:
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("s") if write_only else wb.active
    assert ws is not None
    ws.append(string_cells(ws, ["=1+1", 7, "a\nb", None]))
    buf = io.BytesIO()
    wb.save(buf)
    back = load_workbook(io.BytesIO(buf.getvalue()))
    cells = next(iter(back[back.sheetnames[-1]].iter_rows()))
    assert [(c.value, c.data_type) for c in cells[:3]] == [("=1+1", "s"), (7, "n"),
                                                          ("a b", "s")]
    # what openpyxl does without the helper: a formula
    raw = Workbook()
    assert raw.active is not None
    raw.active.append(["=1+1"])
    assert raw.active["A1"].data_type == "f"
