"""Registry import: template round-trip, GBK CSV, and bad files refused whole."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.lib.idnumber import make
from huimin.registry.models import BankAccount, Household, ParentChild, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Personas

pytestmark = pytest.mark.django_db

FATHER = make("445224", date(1988, 2, 3), 11)
MOTHER = make("445224", date(1990, 4, 5), 22)
CHILD = make("445224", date(2024, 6, 7), 33)


def rows() -> list[list[object]]:
    hh = f"{VILLAGE_A}-9001"
    return [
        [hh, "吴国强", FATHER, "男", "1988-02-03", VILLAGE_A, "农业", "", "", "", "", ""],
        [hh, "许丽娟", MOTHER, "女", date(1990, 4, 5), VILLAGE_A, "农业", "", "", "",
         "中国邮政储蓄银行", "6217995800012345678"],
        [hh, "吴子涵", CHILD, "男", "2024-06-07", VILLAGE_A, "农业", "", FATHER, MOTHER, "", ""],
    ]


def client_for(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def xlsx_from_template(client: Client, data: list[list[object]]) -> io.BytesIO:
    resp = client.get(reverse("registry:template", args=["xlsx"]))
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    ws = wb["人员登记"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["户号", "姓名", "身份证号码"]
    for row in data:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "登记.xlsx"
    return out


def test_template_round_trip_imports_everything(personas: Personas) -> None:
    client = client_for("cadre_a")
    upload = xlsx_from_template(client, rows())
    resp = client.post(reverse("registry:import"), {"file": upload})
    assert resp.status_code == 200, resp.content.decode()[:500]
    assert "导入成功：3 人" in resp.content.decode()
    child = Person.objects.get(name="吴子涵")
    assert child.id_number == CHILD
    assert child.id_masked == CHILD[0] + "*" * 16 + CHILD[-1]
    assert CHILD not in child.id_sealed
    assert child.area.code == VILLAGE_A and child.hukou_type == "rural"
    assert set(ParentChild.objects.filter(child=child).values_list("relation", flat=True)) == {
        "father", "mother"}
    assert BankAccount.objects.get().account_number == "6217995800012345678"
    assert Household.objects.get(number=f"{VILLAGE_A}-9001").members.count() == 3
    assert AuditEvent.objects.filter(action="person.create").count() == 3


def test_gbk_csv_is_accepted(personas: Personas) -> None:
    lines = [",".join(["户号", "姓名", "身份证号码", "性别", "出生日期", "户籍地区划代码",
                       "户籍性质", "死亡日期", "父亲身份证号码", "母亲身份证号码", "开户银行",
                       "银行账号"])]
    lines += [",".join(str(c) for c in r) for r in rows()]
    data = io.BytesIO("\r\n".join(lines).encode("gbk"))
    data.name = "登记.csv"
    resp = client_for("cadre_a").post(reverse("registry:import"), {"file": data})
    assert resp.status_code == 200
    assert Person.objects.filter(name="吴子涵").exists()


def test_bad_rows_refuse_the_whole_file(personas: Personas) -> None:
    bad = rows()
    bad[0][2] = FATHER[:-1] + ("0" if FATHER[-1] != "0" else "1")  # wrong check character
    bad[1][4] = "1990-13-05"  # not a date
    bad[2][5] = VILLAGE_B  # outside the cadre's village
    client = client_for("cadre_a")
    before = Person.objects.count()
    resp = client.post(reverse("registry:import"), {"file": xlsx_from_template(client, bad)})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "整个文件未导入" in page
    assert Person.objects.count() == before
    assert not Household.objects.filter(number=f"{VILLAGE_A}-9001").exists()
    from huimin.errors import FileRejected
    from huimin.registry.importer import import_registry

    with pytest.raises(FileRejected) as info:
        import_registry(personas.cadre_a, xlsx_from_template(client, bad).getvalue(), "x.xlsx")
    found = {(e.row, e.column) for e in info.value.errors}
    assert (2, "身份证号码") in found
    assert (3, "出生日期") in found
    assert (4, "户籍地区划代码") in found
    assert any("校验码错误" in e.reason for e in info.value.errors)


def test_duplicate_and_unknown_parent_are_reported(personas: Personas) -> None:
    from huimin.errors import FileRejected
    from huimin.registry.importer import import_registry

    client = client_for("cadre_a")
    client.post(reverse("registry:import"), {"file": xlsx_from_template(client, rows())})
    again = rows()[:1]
    orphan = [f"{VILLAGE_A}-9002", "周小明", make("445224", date(2025, 1, 1), 45), "男",
              "2025-01-01", VILLAGE_A, "农业", "", make("445224", date(1980, 1, 1), 13), "", "",
              ""]
    with pytest.raises(FileRejected) as info:
        import_registry(personas.cadre_a,
                        xlsx_from_template(client, [*again, orphan]).getvalue(), "x.xlsx")
    reasons = {(e.row, e.column): e.reason for e in info.value.errors}
    assert reasons[(2, "身份证号码")] == "该号码已在本辖区登记"
    assert "未在本文件或本辖区登记" in reasons[(3, "父亲身份证号码")]


def test_wrong_file_type_and_header(personas: Personas) -> None:
    client = client_for("cadre_a")
    f = io.BytesIO(b"%PDF-1.4")
    f.name = "x.pdf"
    resp = client.post(reverse("registry:import"), {"file": f})
    assert resp.status_code == 400 and "只接受 .xlsx 或 .csv" in resp.content.decode()
    g = io.BytesIO("姓名,身份证号码\r\n张三,1\r\n".encode())
    g.name = "x.csv"
    resp = client.post(reverse("registry:import"), {"file": g})
    assert resp.status_code == 400 and "缺少列" in resp.content.decode()


def test_create_person_refuses_inconsistent_id(personas: Personas) -> None:
    from huimin.errors import ActionError
    from huimin.registry import actions
    from huimin.registry.models import Area

    with pytest.raises(ActionError, match="出生日期"):
        actions.create_person(personas.cadre_a, name="测试", id_number=CHILD, sex="M",
                              birth_date=date(2024, 6, 8), area=Area.objects.get(code=VILLAGE_A),
                              hukou_type="rural")
    assert not Person.objects.exists()
