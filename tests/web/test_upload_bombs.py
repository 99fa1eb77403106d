"""Uploads that would kill or stall the server (issue 12, findings 2 and 9): each bomb is built
here and posted to every endpoint that reads such a file; each is refused with a 400 and its
reason, reading stays bounded, and nothing is written."""

from __future__ import annotations

import io
import resource
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

import huimin.rules
from huimin.audit.models import AuditEvent
from huimin.cases import bulk
from huimin.cases.models import Case
from huimin.errors import FileRejected
from huimin.lib import sheets
from huimin.payments import actions as pay
from huimin.payments import bankfile
from huimin.payments.models import BankReturn, JournalEntry, PaymentBatch
from huimin.registry import importer
from huimin.registry.models import BankAccount, Household, ParentChild, Person
from tests.conftest import PASSWORD, VILLAGE_A, Personas, make_family
from tests.web.test_payments import exported, world

pytestmark = pytest.mark.django_db
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHIPPED = Path(huimin.rules.__file__).parent / "programs" / "childcare-subsidy.yaml"


# ------------------------------------------------------------------------------ the bombs

def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def _row(n: int, values: list[str]) -> str:
    cells = "".join(_cell(f"{sheets.column_letter(i + 1)}{n}", v) for i, v in enumerate(values))
    return f'<row r="{n}">{cells}</row>'


def workbook(sheet_data: str, *, dimension: str = "A1", sheet: str = "Sheet",
             padding: str = "") -> bytes:
    """A real workbook (made by openpyxl) whose first sheet's XML is replaced."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    ws["A1"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = (f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/>'
                        f"<sheetData>{sheet_data}{padding}</sheetData></worksheet>").encode()
            dst.writestr(info.filename, body)
    return out.getvalue()


def xfd_bomb(header: list[str], *, honest: bool = True, sheet: str = "Sheet") -> bytes:
    """The header, and one cell in the last column of the last row (5 KB)."""
    data = _row(1, header) + f'<row r="1048576">{_cell("XFD1048576", "x")}</row>'
    return workbook(data, dimension="A1:XFD1048576" if honest else "A1:L1", sheet=sheet)


def long_sheet(header: list[str], rows: int = 300_000, sheet: str = "Sheet",
               honest: bool = True) -> bytes:
    """The header and ``rows`` rows of one short cell each (1.6 MB)."""
    data = _row(1, header) + "".join(f'<row r="{n}">{_cell(f"A{n}", "1")}</row>'
                                     for n in range(2, rows + 2))
    return workbook(data, dimension=f"A1:L{rows + 1}" if honest else "A1:L2", sheet=sheet)


def zip_bomb(header: list[str], sheet: str = "Sheet") -> bytes:
    """60 MB of blanks inside the sheet, compressed to some 60 KB."""
    return workbook(_row(1, header), dimension="A1:L1", sheet=sheet, padding=" " * 60_000_000)


def corrupt(data: bytes, member: str = "xl/worksheets/sheet1.xml") -> bytes:
    """``data`` with the compressed bytes of ``member`` overwritten in the middle."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.compress_size // 3
    return data[:middle] + b"\xff\x00\xfe\x01" * 4 + data[middle + 16:]


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def upload(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def login(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


#: events a refused upload may still leave: the login and the page shown with the refusal
READS = ("account.login", "batch.view")


def written() -> tuple[int, ...]:
    """What an accepted file would change."""
    return (Person.objects.count(), Household.objects.count(), BankAccount.objects.count(),
            ParentChild.objects.count(), Case.objects.count(),
            AuditEvent.objects.exclude(action__in=READS).count(),
            JournalEntry.objects.count(), BankReturn.objects.count(),
            sum(1 for _ in PaymentBatch.objects.filter(state="returned")))


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------- the spreadsheets

REGISTRY_BOMBS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "xfd": (lambda: xfd_bomb(importer.HEADER), "登记.xlsx", "超过 50 列"),
    "xfd-lying-dimension": (lambda: xfd_bomb(importer.HEADER, honest=False), "登记.xlsx",
                            "超过 50 列"),
    "300000-rows": (lambda: long_sheet(importer.HEADER), "登记.xlsx", "超过 100000 行"),
    "300000-rows-lying-dimension": (lambda: long_sheet(importer.HEADER, honest=False),
                                    "登记.xlsx", "超过 100000 行的上限"),
    "zip-bomb": (lambda: zip_bomb(importer.HEADER), "登记.xlsx", "压缩炸弹"),
    "corrupt": (lambda: corrupt(workbook(_row(1, importer.HEADER))), "登记.xlsx", "已损坏"),
    "truncated": (lambda: truncated(workbook(_row(1, importer.HEADER))), "登记.xlsx",
                  "不是有效的 Excel"),
    "not-a-zip": (lambda: b"<html>not a workbook</html>", "登记.xlsx", "不是有效的 Excel"),
    "long-cell-csv": (lambda: (",".join(importer.HEADER) + "\r\n" + f"{VILLAGE_A}-0001,"
                               + "张" * 200_000 + ",x\r\n").encode(), "登记.csv",
                      "200000 个字符，超过 1000 个"),
    "wide-csv": (lambda: (",".join(importer.HEADER) + "\r\n" + "1," * 60 + "1\r\n").encode(),
                 "登记.csv", "超过 50 列"),
    "300000-rows-csv": (lambda: (",".join(importer.HEADER) + "\n" + "1\n" * 300_000).encode(),
                        "登记.csv", "超过 100000 行"),
}


@pytest.mark.parametrize("bomb", list(REGISTRY_BOMBS))
def test_registry_import_refuses_each_bomb(personas: Personas, bomb: str) -> None:
    make, name, reason = REGISTRY_BOMBS[bomb]
    before = written()
    resp = login("cadre_a").post(reverse("registry:import"), {"file": upload(make(), name)})
    assert resp.status_code == 400
    assert reason in resp.context["rejected"] + "".join(e.reason for e in resp.context["errors"])
    assert written() == before


@pytest.mark.parametrize("bomb", ["xfd", "300000-rows", "zip-bomb", "corrupt", "truncated",
                                  "long-cell-csv", "300000-rows-csv"])
def test_bulk_intake_refuses_each_bomb(personas: Personas, bomb: str) -> None:
    make, name, reason = REGISTRY_BOMBS[bomb]
    data = make()
    if name.endswith(".csv"):
        data = data.replace(",".join(importer.HEADER).encode(), ",".join(bulk.HEADER).encode())
    before = written()
    resp = login("cadre_a").post(reverse("cases:bulk"), {"file": upload(data, name)})
    assert resp.status_code == 400
    assert reason in resp.context["rejected"] + "".join(e.reason for e in resp.context["errors"])
    assert written() == before


def test_the_long_cell_is_named_by_row_and_column(personas: Personas) -> None:
    data = REGISTRY_BOMBS["long-cell-csv"][0]()
    with pytest.raises(FileRejected) as exc:
        importer.read_rows(data, "登记.csv")
    assert [(e.row, e.column) for e in exc.value.errors] == [(2, "姓名")]
    cadre = login("cadre_a")
    resp = cadre.post(reverse("cases:bulk"), {"file": upload(data, "a.csv")})
    assert [(e.row, e.column) for e in resp.context["errors"]] == [(2, "补贴对象身份证号码")]
    # the same in a sheet, where the cell reaches the reader whole
    sheet = workbook(_row(1, bulk.HEADER) + _row(2, ["x", "y" * 5000]))
    resp = cadre.post(reverse("cases:bulk"), {"file": upload(sheet, "a.xlsx")})
    assert [(e.row, e.column) for e in resp.context["errors"]] == [(2, "补贴对象身份证号码")]
    assert "5000 个字符" in resp.context["errors"][0].reason


def test_reading_a_bomb_stays_small(personas: Personas) -> None:
    """The reads stop at the limit: memory grows by far less than the grid they declare."""
    bombs = [xfd_bomb(importer.HEADER, honest=False),
             long_sheet(importer.HEADER, honest=False), zip_bomb(importer.HEADER)]
    start = max_rss_mb()
    for data in bombs:
        with pytest.raises(FileRejected):
            importer.read_rows(data, "登记.xlsx")
    assert max_rss_mb() - start < 300


def test_csv_with_cr_only_lf_or_crlf_line_ends_imports(personas: Personas) -> None:
    from tests.web.test_registry_import import rows

    for i, end in enumerate(("\r", "\n", "\r\n")):
        lines = [",".join(importer.HEADER)]
        for r in rows():
            r = [str(v) for v in r]
            r[0] = f"{VILLAGE_A}-{9100 + i}"
            lines.append(",".join(r))
        Person.objects.filter(household__number__startswith=f"{VILLAGE_A}-9").delete()
        resp = login("cadre_a").post(reverse("registry:import"), {
            "file": upload(end.join(lines).encode() + end.encode(), "登记.csv")})
        assert resp.status_code == 200, resp.context and resp.context.get("rejected")
        assert resp.context["summary"]["persons"] == 3


def test_errors_stop_at_the_cap(personas: Personas) -> None:
    """A sheet of bad rows lists the first ``MAX_ERRORS`` and says there are more."""
    cadre = login("cadre_a")
    rows = [",".join(bulk.HEADER)] + [f"no-such-program,{n}" for n in range(3000)]
    resp = cadre.post(reverse("cases:bulk"), {"file": upload("\n".join(rows).encode(), "a.csv")})
    assert resp.status_code == 400
    assert sheets.MORE_ERRORS in resp.content.decode()
    assert len(resp.context["errors"]) == sheets.MAX_ERRORS


# --------------------------------------------------------------------------- bank returns

def _return_with(batch: PaymentBatch, edit: Callable[[list[list[str]]], None]) -> bytes:
    """The batch's sample return with its detail rows edited and the control row redone."""
    layout = bankfile.get_layout(batch.layout)
    rows = bankfile.read_rows(layout, pay.sample_return(batch))
    body = rows[1:-1]
    edit(body)
    digest = bankfile._Digest()
    for r in [rows[0], *body]:
        digest.row(r)
    trailer = bankfile.trailer(len(body), batch.total_fen, digest.hexdigest(), len(rows[0]))
    return bankfile.write_rows(layout, [rows[0], *body, trailer])


def _post_return(personas: Personas, batch: PaymentBatch, data: bytes,
                 name: str) -> tuple[Any, Any]:
    finance = login(personas.finance.username)
    web = finance.post(reverse("payments:return", args=[batch.pk]), {"file": upload(data, name)})
    api = finance.post(f"/api/batches/{batch.pk}/return", {"file": upload(data, name)})
    return web, api


def _assert_refused(personas: Personas, batch: PaymentBatch, data: bytes, name: str,
                    reason: str) -> None:
    before = (written(), list(batch.lines.values_list("status", flat=True)))
    web, api = _post_return(personas, batch, data, name)
    assert web.status_code == 400
    shown = web.context["rejected"] + "".join(e.reason for e in web.context["errors"])
    assert reason in shown, shown[:500]
    assert api.status_code == 400
    body = api.json()
    assert reason in body["detail"] + "".join(e["reason"] for e in body["errors"])
    assert (written(), list(batch.lines.values_list("status", flat=True))) == before


XLSX_RETURN_BOMBS: dict[str, tuple[Callable[[list[str], str], bytes], str]] = {
    "xfd": (lambda h, s: xfd_bomb(h, sheet=s), "超过 20 列"),
    "xfd-lying-dimension": (lambda h, s: xfd_bomb(h, honest=False, sheet=s), "超过 20 列"),
    "300000-rows": (lambda h, s: long_sheet(h, sheet=s), "行的上限"),
    "300000-rows-lying-dimension": (lambda h, s: long_sheet(h, sheet=s, honest=False),
                                    "行的上限"),
    "zip-bomb": (lambda h, s: zip_bomb(h, sheet=s), "压缩炸弹"),
    "corrupt": (lambda h, s: corrupt(workbook(_row(1, h), sheet=s)), "损坏"),
    "truncated": (lambda h, s: truncated(workbook(_row(1, h), sheet=s)), "不是有效的"),
}


@pytest.mark.parametrize("bomb", list(XLSX_RETURN_BOMBS))
def test_an_xlsx_return_bomb_is_refused(personas: Personas, bomb: str) -> None:
    world(personas, 2)
    batch = exported(personas, "abc-xlsx")
    layout = bankfile.get_layout("abc-xlsx")
    make, reason = XLSX_RETURN_BOMBS[bomb]
    header = [c.header for c in layout.return_columns]
    _assert_refused(personas, batch, make(header, layout.sheet), "r.xlsx", reason)


def test_an_xlsx_return_still_imports(personas: Personas) -> None:
    world(personas, 2)
    batch = exported(personas, "abc-xlsx")
    web, _api = _post_return(personas, batch, pay.sample_return(batch), "r.xlsx")
    assert web.status_code == 302
    assert set(batch.lines.values_list("status", flat=True)) == {"paid"}


def test_csv_return_bombs_are_refused(personas: Personas) -> None:
    world(personas, 3)
    batch = exported(personas)
    header = ",".join(c.header for c in bankfile.get_layout(batch.layout).return_columns)

    def long_cell(body: list[list[str]]) -> None:
        body[1][4] = "余" * 200_000
        body[1][3] = "失败"

    _assert_refused(personas, batch, _return_with(batch, long_cell), "r.csv",
                    "200000 个字符，超过 1000 个")
    many = (header + "\r\n" + "x,1,1,成功,\r\n" * 300_000).encode()
    _assert_refused(personas, batch, many, "r.csv", "行的上限")

    def superscript(body: list[list[str]]) -> None:
        body[0][0] = body[0][0][:-1] + "²"

    _assert_refused(personas, batch, _return_with(batch, superscript), "r.csv", "流水号")

    def overlong(body: list[list[str]]) -> None:
        body[1][0] = body[1][0] + "9" * 900

    _assert_refused(personas, batch, _return_with(batch, overlong), "r.csv", "流水号")


def test_bad_references_and_amounts_are_row_errors(personas: Personas) -> None:
    """``²`` passes ``str.isdigit()`` but not ``int()``; Arabic-Indic digits pass both."""
    world(personas, 3)
    batch = exported(personas)

    def edit(body: list[list[str]]) -> None:
        body[0][0] = body[0][0][:-1] + "²"
        body[2][2] = "".join(chr(0x0660 + int(d)) if d.isdigit() else d for d in body[2][2])

    before = written()
    with pytest.raises(FileRejected) as exc:
        pay.import_return(personas.finance, batch, _return_with(batch, edit))
    assert [(e.row, e.column) for e in exc.value.errors] == [(2, "流水号"), (4, "金额")]

    def overlong(body: list[list[str]]) -> None:
        body[1][0] = body[1][0] + "9" * 5000  # past int()'s 4,300 digits

    with pytest.raises(FileRejected) as exc:
        pay.import_return(personas.finance, batch, _return_with(batch, overlong))
    assert [(e.row, e.column) for e in exc.value.errors] == [(3, "流水号")]
    assert written() == before


def test_a_cr_only_return_imports(personas: Personas) -> None:
    world(personas, 2)
    batch = exported(personas)
    data = pay.sample_return(batch).replace(b"\r\n", b"\r")
    layout = bankfile.get_layout(batch.layout)
    # the row-by-row reading (used whenever a line is wrong) reads it as the columns do
    assert len(bankfile.parse_return(layout, data).lines) == 2
    assert pay.import_return(personas.finance, batch, data)["paid"] == 2


def test_the_cli_refuses_a_return_bomb(personas: Personas, tmp_path: Path) -> None:
    from huimin.cli import app

    world(personas, 2)
    batch = exported(personas, "abc-xlsx")
    layout = bankfile.get_layout("abc-xlsx")
    path = tmp_path / "r.xlsx"
    path.write_bytes(xfd_bomb([c.header for c in layout.return_columns], sheet=layout.sheet))
    before = written()
    result = CliRunner().invoke(app, ["payments", "import-return", str(path), "--user",
                                      "finance", "--batch", str(batch.pk)])
    assert result.exit_code == 1 and "超过 20 列" in result.output
    assert written() == before


# ------------------------------------------------------------------------ the what-if YAML

def test_whatif_refuses_yaml_aliases(personas: Personas) -> None:
    """Merge keys over aliases double at each level ("billion laughs"): refused at once."""
    make_family(personas.cadre_a, VILLAGE_A, __import__("datetime").date(2024, 3, 3))
    levels = ["a0: &a0 {x: 1, y: 2, z: 3}"]
    levels += [f"a{i}: &a{i} {{<<: [{', '.join(f'*a{i - 1}' for _ in range(9))}]}}"
               for i in range(1, 7)]
    text = SHIPPED.read_text(encoding="utf-8") + "\nx-bomb:\n" + "\n".join(
        "  " + line for line in levels) + "\n"
    before = written()
    resp = login("county").post(reverse("programs:whatif"), {
        "program": "childcare-subsidy", "years": "2026",
        "proposal": upload(text.encode(), "p.yaml")})
    assert resp.status_code == 400
    assert "别名" in resp.content.decode()
    assert written() == before


def test_deep_yaml_is_refused(personas: Personas) -> None:
    make_family(personas.cadre_a, VILLAGE_A, __import__("datetime").date(2024, 3, 3))
    text = "id: childcare-subsidy\nx: " + "[" * 20_000 + "]" * 20_000 + "\n"
    resp = login("county").post(reverse("programs:whatif"), {
        "program": "childcare-subsidy", "years": "2026",
        "proposal": upload(text.encode(), "p.yaml")})
    assert resp.status_code == 400 and "嵌套超过" in resp.content.decode()


# ------------------------------------------------------------------------- the reader alone

def test_zip_limits_are_checked_before_parsing() -> None:
    limits = sheets.Limits(max_members=5, max_unzipped=10_000)
    small = workbook(_row(1, ["a"]))
    with pytest.raises(FileRejected, match="个部件"):
        sheets.read_sheet(small, "xlsx", limits)
    with pytest.raises(FileRejected, match="解压后"):
        sheets.read_sheet(small + b"", "xlsx", sheets.Limits(max_unzipped=100))
    assert sheets.read_sheet(small, "xlsx", sheets.Limits()) == [["a"]]


def test_a_sheet_without_cell_positions_is_refused() -> None:
    data = workbook('<row><c t="inlineStr"><is><t>a</t></is></c></row>')
    with pytest.raises(FileRejected, match="没有位置信息"):
        sheets.read_sheet(data, "xlsx", sheets.Limits())


@pytest.mark.parametrize("year", ["²⁰²⁶", "٢٠٢٦", "２０２６", "1999", "20266"])
def test_bulk_intake_claim_year_is_checked_as_typed(personas: Personas, year: str) -> None:
    """A claim year in superscript, Arabic-Indic or fullwidth digits, or out of range, is a row
    error under 申领年度, and nothing is recorded."""
    from huimin.cases.models import Case

    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    row = ["childcare-subsidy", fam.child.id_number, fam.mother.id_number, year, "", ""]
    text = ",".join(bulk.HEADER) + "\r\n" + ",".join(row) + "\r\n"
    before = Case.objects.count()
    resp = login("cadre_a").post(reverse("cases:bulk"),
                                 {"file": upload(text.encode(), "a.csv")})
    assert resp.status_code == 400
    body = resp.content.decode()
    assert "申领年度" in body and "补贴对象身份证号码" not in body.split("申领年度")[-1][:40]
    assert Case.objects.count() == before
