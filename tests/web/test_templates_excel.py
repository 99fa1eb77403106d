"""Import templates that survive Excel: text-formatted ID and account columns, dropdowns for
codes, Chinese program names, and numbers Excel mangled named as such in the row error."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.lib.cells import excel_mangled
from huimin.lib.idnumber import make
from huimin.registry.models import Area, BankAccount, Household, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Personas, make_family, new_id

pytestmark = pytest.mark.django_db
FATHER = make("445224", date(1988, 2, 3), 11)
MOTHER = make("445224", date(1990, 4, 5), 22)
SCI = "看起来被 Excel 转成了科学计数法"


def client(username: str = "cadre_a") -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def workbook(c: Client, url: str) -> Any:
    resp = c.get(url)
    assert resp.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(resp.content))


def column(ws: Any, name: str) -> str:
    for cell in ws[1]:
        if cell.value == name:
            return str(cell.column_letter)
    raise AssertionError(name)


def dropdown(wb: Any, ws: Any, name: str) -> list[str]:
    """The values the dropdown of column ``name`` offers (from the hidden sheet)."""
    letter = column(ws, name)
    dv = next(d for d in ws.data_validations.dataValidation if f"{letter}2" in str(d.sqref))
    assert dv.type == "list" and str(dv.sqref) == f"{letter}2:{letter}2001"
    sheet, cells = dv.formula1.lstrip("=").split("!")
    first, last = cells.replace("$", "").split(":")
    rng = wb[sheet.strip("'")][f"{first}:{last}"]
    return [str(row[0].value) for row in rng]


def upload(wb: Any, name: str = "登记.xlsx") -> io.BytesIO:
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = name
    return out


def row(n: int, column: str, reason: str) -> str:
    """A row error as the import page's error table shows it."""
    return f"<td>{n}</td><td>{column}</td><td>{reason}"


def registered() -> tuple[int, int, int, int]:
    return (Person.objects.count(), Household.objects.count(), BankAccount.objects.count(),
            AuditEvent.objects.filter(action="registry.import").count())


# ------------------------------------------------------------------ the registry template


def test_registry_template_keeps_numbers_as_text_and_offers_dropdowns(
        personas: Personas) -> None:
    wb = workbook(client(), reverse("registry:template", args=["xlsx"]))
    ws = wb["人员登记"]
    for name in ("身份证号码", "父亲身份证号码", "母亲身份证号码", "银行账号", "户号",
                 "户籍地区划代码"):
        assert ws.column_dimensions[column(ws, name)].number_format == "@", name
    assert ws.column_dimensions[column(ws, "姓名")].number_format == "General"
    assert dropdown(wb, ws, "性别") == ["男", "女"]
    assert dropdown(wb, ws, "户籍性质") == ["农业", "非农业"]
    villages = dropdown(wb, ws, "户籍地区划代码")
    area = Area.objects.get(code=VILLAGE_A)
    assert f"{VILLAGE_A} {area.name}" in villages
    assert not any(v.startswith(VILLAGE_B) for v in villages)  # only the cadre's own
    assert wb["代码表"].sheet_state == "hidden"
    assert wb.sheetnames[0] == "人员登记"  # the import reads the first sheet


def test_registry_template_filled_in_imports(personas: Personas) -> None:
    c = client()
    wb = workbook(c, reverse("registry:template", args=["xlsx"]))
    ws = wb["人员登记"]
    village = dropdown(wb, ws, "户籍地区划代码")[0]
    hh = f"{VILLAGE_A}-9001"
    ws.append([hh, "吴国强", FATHER, "男", "1988-02-03", village, "农业", "", "", "", "", ""])
    ws.append([hh, "许丽娟", MOTHER, "女", "1990-04-05", village, "农业", "", "", "",
               "中国邮政储蓄银行", "6217995800012345678"])
    r = c.post(reverse("registry:import"), {"file": upload(wb)})
    assert r.status_code == 200, r.content.decode()[:2000]
    assert Person.objects.filter(household__number=hh).count() == 2
    assert BankAccount.objects.get().account_number == "6217995800012345678"


@pytest.mark.parametrize(("id_cell", "reason"), [
    (445224199004052221, "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失"),
    (4.45224e17, "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失（读到 445224000000000000）"),
])
def test_a_numeric_id_cell_is_named_as_mangled(personas: Personas, id_cell: object,
                                                reason: str) -> None:
    c = client()
    wb = workbook(c, reverse("registry:template", args=["xlsx"]))
    ws = wb["人员登记"]
    ws.append([f"{VILLAGE_A}-9001", "许丽娟", id_cell, "女", "1990-04-05", VILLAGE_A, "农业",
               "", "", "", "中国邮政储蓄银行", 6217995800012345678])
    before = registered()
    r = c.post(reverse("registry:import"), {"file": upload(wb)})
    page = r.content.decode()
    assert r.status_code == 400
    assert row(2, "身份证号码", reason) in page
    assert row(2, "银行账号", "看起来被 Excel 当作数字保存") in page
    assert "请把该列设为文本后重新填写" in page
    assert registered() == before


def test_scientific_notation_and_a_trailing_point_zero_in_a_csv(personas: Personas) -> None:
    header = ("户号,姓名,身份证号码,性别,出生日期,户籍地区划代码,户籍性质,死亡日期,"
              "父亲身份证号码,母亲身份证号码,开户银行,银行账号")
    lines = [header,
             f"{VILLAGE_A}-9001,许丽娟,4.45224E+17,女,1990-04-05,{VILLAGE_A},农业,,,,,",
             f"{VILLAGE_A}-9001,吴国强,{FATHER},男,1988-02-03,{VILLAGE_A},农业,,,,"
             "中国邮政储蓄银行,6217995800012345678.0",
             f"{VILLAGE_A}-9001,吴子涵,{make('445224', date(2024, 6, 7), 33)},男,2024-06-07,"
             f"{VILLAGE_A},农业,,{FATHER}.0,,,"]
    data = io.BytesIO(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    data.name = "登记.csv"
    before = registered()
    r = client().post(reverse("registry:import"), {"file": data})
    page = r.content.decode()
    assert r.status_code == 400
    assert row(2, "身份证号码", f"{SCI}（4.45224E+17），请把该列设为文本后重新填写") in page
    assert row(3, "银行账号", "末尾多了「.0」（6217995800012345678.0），看起来被 Excel "
                             "当作数字保存过，请把该列设为文本后重新填写") in page
    assert row(4, "父亲身份证号码", f"末尾多了「.0」（{FATHER}.0）") in page
    assert registered() == before


@pytest.mark.parametrize(("value", "expected"), [
    ("4.45224E+17", f"{SCI}（4.45224E+17），请把该列设为文本后重新填写"),
    ("4,45224E+17", f"{SCI}（4,45224E+17），请把该列设为文本后重新填写"),
    (1.5, "看起来被 Excel 转成了小数（1.5），请把该列设为文本后重新填写"),
    (6228480012345678.0, "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失"
                         "（读到 6228480012345678），请把该列设为文本后重新填写"),
    (622848001234567, None),  # 15 digits survive a number cell
    ("445224199001011234", None), ("", None), (None, None), (True, None),
])
def test_excel_mangled(value: object, expected: str | None) -> None:
    assert excel_mangled(value) == expected


def test_excel_mangled_without_the_value() -> None:
    """For a reason kept beside a masked ID number: what was read is left out."""
    assert excel_mangled(4.45224e17, quote=False) == (
        "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失，请把该列设为文本后重新填写")
    assert excel_mangled("445224199001011234.0", quote=False) == (
        "末尾多了「.0」，看起来被 Excel 当作数字保存过，请把该列设为文本后重新填写")
    assert excel_mangled("445224199001011234", quote=False) is None


# ------------------------------------------------------------------ the bulk-intake template


def test_bulk_template_offers_program_names_and_takes_them(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3))
    c = client()
    wb = workbook(c, reverse("cases:bulk_template"))
    ws = wb["批量受理"]
    names = dropdown(wb, ws, "项目代码")
    assert "育儿补贴" in names and "childcare-subsidy" not in names
    assert dropdown(wb, ws, "原政策内身份已确认") == ["是", "否"]
    assert dropdown(wb, ws, "子女残疾等级") == ["1", "2", "3", "4"]
    for name in ("补贴对象身份证号码", "申请人身份证号码"):
        assert ws.column_dimensions[column(ws, name)].number_format == "@"
    ws.append(["育儿补贴", fam.child.id_number, fam.mother.id_number, "2026", "", ""])
    r = c.post(reverse("cases:bulk"), {"file": upload(wb, "受理.xlsx")})
    assert r.status_code == 200, r.content.decode()[:2000]
    case = Case.objects.get(subject=fam.child)
    assert case.program.code == "childcare-subsidy"


def test_bulk_intake_names_mangled_ids_and_unknown_programs(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3))
    c = client()
    wb = workbook(c, reverse("cases:bulk_template"))
    ws = wb["批量受理"]
    ws.append(["育儿补贴", float(fam.child.id_number[:17] + "0"), fam.mother.id_number, "2026",
               "", ""])
    ws.append(["育儿", fam.child.id_number, fam.mother.id_number, "2026", "", ""])
    r = c.post(reverse("cases:bulk"), {"file": upload(wb, "受理.xlsx")})
    page = r.content.decode()
    assert r.status_code == 400
    assert row(2, "补贴对象身份证号码",
               "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失") in page
    assert row(3, "项目代码", "未知项目 育儿（从下拉列表选择项目名称，或填项目代码）") in page
    assert not Case.objects.exists()


# ------------------------------------------------------------------ the feed templates


FEED_DROPDOWNS = {"death": {}, "move": {}, "birth": {"sex": ["男", "女"]},
                  "disability": {"grade": ["1", "2", "3", "4"]}}
MANGLED = "看起来被 Excel 当作数字保存，第 16 位起的数字已丢失，请把该列设为文本后重新填写"


@pytest.mark.parametrize("kind", ["death", "move", "birth", "disability"])
def test_feed_templates_keep_numbers_as_text(personas: Personas, kind: str) -> None:
    wb = workbook(client("county"), reverse("feeds:template", args=[kind, "xlsx"]))
    ws = wb.worksheets[0]
    texts = [c.value for c in ws[1]
             if ws.column_dimensions[c.column_letter].number_format == "@"]
    assert "event_id" in texts
    assert any(str(t).endswith("id_number") for t in texts)
    assert all(t in texts for t in ("to_code", "from_code", "certificate_no",
                                    "mother_id_number", "father_id_number")
               if t in [c.value for c in ws[1]])
    for name, values in FEED_DROPDOWNS[kind].items():
        assert dropdown(wb, ws, name) == values
    assert len(ws.data_validations.dataValidation) == len(FEED_DROPDOWNS[kind])


def feed_upload(c: Client, kind: str, wb: Any) -> Any:
    """Upload a filled feed workbook; the loaded file's rows by row number."""
    from huimin.verification.models import FeedFile

    r = c.post(reverse("feeds:index"), {"kind": kind, "file": upload(wb, f"{kind}.xlsx")})
    assert r.status_code == 302, r.content.decode()[:2000]
    feed = FeedFile.objects.get(pk=int(r["Location"].rstrip("/").rsplit("/", 1)[1]))
    return {row.row_number: row for row in feed.rows.all()}


def test_feed_templates_filled_in_match(personas: Personas, family_a: Any) -> None:
    c, child, mother = client("county"), family_a.child, family_a.mother
    wb = workbook(c, reverse("feeds:template", args=["disability", "xlsx"]))
    wb.worksheets[0].append(["DX1", child.id_number, child.name, "残证001",
                             dropdown(wb, wb.worksheets[0], "grade")[1], "2026-05-01", ""])
    rows = feed_upload(c, "disability", wb)
    assert (rows[2].status, rows[2].person, rows[2].reason) == ("matched", child, "")

    wb = workbook(c, reverse("feeds:template", args=["birth", "xlsx"]))
    ws = wb.worksheets[0]
    ws.append(["BX1", new_id(date(2026, 4, 1), "F"), "林小花", dropdown(wb, ws, "sex")[1],
               "2026-04-01", mother.id_number, "", "", "N1"])
    rows = feed_upload(c, "birth", wb)
    assert (rows[2].status, rows[2].person) == ("matched", mother)


def test_feed_xlsx_names_an_id_number_excel_mangled(personas: Personas, family_a: Any) -> None:
    c, child, father = client("county"), family_a.child, family_a.father
    wb = workbook(c, reverse("feeds:template", args=["death", "xlsx"]))
    ws = wb.worksheets[0]
    ws.append(["DM1", float(child.id_number[:15] + "000"), child.name, "2026-03-05", "", ""])
    ws.append(["DM2", father.id_number, father.name, "2026-03-06", "", ""])
    rows = feed_upload(c, "death", wb)
    assert (rows[2].status, rows[2].reason) == ("quarantined", f"「id_number」：{MANGLED}")
    assert (rows[3].status, rows[3].person) == ("matched", father)  # the file goes on
    page = c.get(reverse("feeds:exceptions") + "?status=quarantined").content.decode()
    assert "<td>2</td><td>死亡</td><td>DM1</td>" in page and MANGLED in page
    assert child.id_number[:15] not in page  # the reason does not repeat the number

    wb = workbook(c, reverse("feeds:template", args=["birth", "xlsx"]))
    wb.worksheets[0].append(["BM1", new_id(date(2026, 4, 1), "F"), "林小花", "女",
                             "2026-04-01", int(family_a.mother.id_number[:-1] + "0"), "",
                             "", "N1"])
    rows = feed_upload(c, "birth", wb)
    assert rows[2].reason == f"「mother_id_number」：{MANGLED}"


def test_feed_csv_names_scientific_notation_and_point_zero(personas: Personas,
                                                            family_a: Any) -> None:
    from huimin.lib.idnumber import make
    from tests.web.feeds_helpers import MOVE, csv_bytes, load

    child, father, mother = family_a.child, family_a.father, family_a.mother
    # Excel turns only an all-digit number into a float: one that ends in X never gets a ".0"
    digits = next(n for s in range(1, 1000, 2)
                  for n in [make(father.id_number[:6], father.birth_date, s)] if n.isdigit())
    data = csv_bytes(MOVE, [["MM1", "4.45224E+17", child.name, "2026-03-05", VILLAGE_B],
                            ["MM2", digits + ".0", father.name, "2026-03-05", VILLAGE_B],
                            ["MM3", mother.id_number, mother.name, "2026-03-05",
                             VILLAGE_B + ".0"],
                            ["MM4", child.id_number, child.name, "2026-03-05", VILLAGE_B]])
    feed = load(personas.county, data, kind="move").file
    rows = {r.row_number: r for r in feed.rows.all()}
    assert rows[2].reason == ("「id_number」：看起来被 Excel 转成了科学计数法，"
                              "请把该列设为文本后重新填写")
    assert rows[3].reason == ("「id_number」：末尾多了「.0」，看起来被 Excel 当作数字保存过，"
                              "请把该列设为文本后重新填写")
    assert rows[4].reason == (f"「to_code」：末尾多了「.0」（{VILLAGE_B}.0），看起来被 Excel "
                              "当作数字保存过，请把该列设为文本后重新填写")
    assert rows[5].status == "matched"
    assert (feed.quarantined, feed.matched) == (3, 1)
