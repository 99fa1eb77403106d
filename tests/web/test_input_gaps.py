"""Finding 10: input the server used to store as given — overlong names, NUL bytes, digits
that are not ASCII, deaths in the future, payment cycles for year 0, and a "new" household
that was an existing family's."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huimin.errors import ActionError, FileRejected
from huimin.payments import actions as pay
from huimin.payments.models import PaymentCycle
from huimin.programs.models import Program
from huimin.registry import actions, importer
from huimin.registry.models import Area, BankAccount, Household, Person
from tests.conftest import PASSWORD, VILLAGE_A, Personas, new_id
from tests.web.payments_helpers import _approved

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
BAD_ACCOUNTS = ["６２２８４８００１２３４５６７８", "٦٢٢٨٤٨٠٠١٢٣٤٥٦٧٨", "⁶²²⁸⁴⁸⁰⁰¹²³⁴⁵⁶⁷⁸"]


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def village() -> Area:
    return Area.objects.get(code=VILLAGE_A)


def import_row(**over: str) -> dict[str, str]:
    """The errors (column -> reason) of a one-row import by cadre_a."""
    values = {"户号": f"{VILLAGE_A}-6001", "姓名": "陈思远",
              "身份证号码": new_id(date(1990, 1, 1), "M"), "性别": "男", "出生日期": "1990-01-01",
              "户籍地区划代码": VILLAGE_A, "户籍性质": "农业", "死亡日期": "",
              "父亲身份证号码": "", "母亲身份证号码": "", "开户银行": "", "银行账号": ""}
    values.update(over)
    with pytest.raises(FileRejected) as info:
        importer.import_registry(cadre_a(), importer.rows_to_csv(
            [[values[h] for h in importer.HEADER]]), "x.csv")
    return {e.column: e.reason for e in info.value.errors}


def cadre_a() -> object:
    from huimin.accounts.models import User

    return User.objects.get(username="cadre_a")


def test_an_overlong_name_and_a_nul_byte_are_refused(personas: Personas) -> None:
    assert "超过 1000 个" in import_row(姓名="张" * 100_000)["姓名"]  # the file's cell cap
    assert "不能超过 50 个字" in import_row(姓名="张" * 51)["姓名"]
    assert "U+0000" in import_row(姓名="张\x00三")["姓名"]
    with pytest.raises(ActionError, match="姓名：不能超过 50 个字"):
        actions.create_person(personas.cadre_a, name="张" * 51,
                              id_number=new_id(date(1990, 1, 1), "M"), sex="M",
                              birth_date=date(1990, 1, 1), area=village(), hukou_type="rural")
    assert "不能超过 40 个字" in import_row(户号=f"{VILLAGE_A}-" + "1" * 40)["户号"]
    assert "不能超过 100 个字" in import_row(开户银行="银" * 101,
                                          银行账号="6228480012345678901")["开户银行"]
    assert not Person.objects.exists()


@pytest.mark.parametrize("account", BAD_ACCOUNTS)
def test_bank_accounts_are_ascii_digits_only(personas: Personas, account: str) -> None:
    assert account.isdigit()  # what the old check accepted
    got = import_row(开户银行="中国农业银行", 银行账号=account)
    assert "半角 0–9" in got["银行账号"]
    person = actions.create_person(personas.cadre_a, name="陈思远",
                                   id_number=new_id(date(1990, 1, 1), "M"), sex="M",
                                   birth_date=date(1990, 1, 1), area=village(),
                                   hukou_type="rural")
    with pytest.raises(ActionError, match="银行账号"):
        actions.add_bank_account(personas.cadre_a, person, bank_name="中国农业银行",
                                 account=account)
    assert not BankAccount.objects.exists()


def test_a_death_in_the_future_is_refused(personas: Personas) -> None:
    assert import_row(死亡日期="2026-06-16")["死亡日期"] == "晚于今天"
    with pytest.raises(ActionError, match="死亡日期：晚于今天"):
        actions.create_person(personas.cadre_a, name="陈思远",
                              id_number=new_id(date(1990, 1, 1), "M"), sex="M",
                              birth_date=date(1990, 1, 1), area=village(), hukou_type="rural",
                              death_date=date(2027, 1, 1))
    assert not Person.objects.exists()


def program() -> Program:
    return Program.objects.get(code="childcare-subsidy")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"claim_year": 0}, "年度"),
    ({"claim_year": 99999}, "年度"),
    ({"claim_year": 1999}, "年度"),
    ({"claim_year": 2028}, "年度"),
    ({"claim_year": 2026, "cut_off": date(9999, 12, 31)}, "截止日"),
    ({"claim_year": 2026, "cut_off": date(2025, 12, 31)}, "截止日"),
    ({"claim_year": 2026, "period": "abc"}, "发放期"),
    ({"claim_year": 2026, "period": "2026-Q5"}, "发放期"),
    ({"claim_year": 2026, "period": "2030"}, "发放期"),
    ({"claim_year": 2026, "period": "20\n26"}, "发放期"),
])
def test_a_cycle_outside_a_sane_range_is_refused(personas: Personas, kwargs: dict[str, object],
                                                 field: str) -> None:
    with pytest.raises(ActionError, match=f"^{field}："):
        pay.build_cycle(personas.finance, program=program(), **kwargs)  # type: ignore[arg-type]
    assert not PaymentCycle.objects.exists()


@pytest.mark.parametrize("period", ["2026", "2026-Q2", "2026-H1", "2026-06", "2027"])
def test_sane_periods_are_accepted(personas: Personas, period: str) -> None:
    _approved(personas, program(), date(2025, 2, 2), "林")  # a cycle is never empty
    cycle = pay.build_cycle(personas.finance, program=program(), claim_year=2026, period=period,
                            cut_off=date(2026, 6, 30))
    assert cycle.period == period


def test_the_cycle_form_and_the_api_refuse_them_too(personas: Personas) -> None:
    c = Client()
    assert c.login(username="finance", password=PASSWORD)
    for post, text in (({"claim_year": "0"}, "年度"), ({"claim_year": "99999"}, "年度"),
                       ({"claim_year": "２０２６"}, "年度"),
                       ({"claim_year": "2026", "cut_off": "9999-12-31"}, "截止日"),
                       ({"claim_year": "2026", "cut_off": "2026-02-30"}, "截止日")):
        resp = c.post(reverse("payments:cycle_new"), {"program": "childcare-subsidy", **post},
                      follow=True)
        assert text + "：" in resp.content.decode(), post
    resp = c.post("/api/cycles", json.dumps({"program": "childcare-subsidy", "claim_year": 0}),
                  content_type="application/json")
    assert resp.status_code == 422  # out of the schema's range
    assert resp.json()["errors"][0]["field"] == "claim_year"
    next_year = timezone.localdate().year + 1
    resp = c.post("/api/cycles", json.dumps({"program": "childcare-subsidy",
                                             "claim_year": next_year + 1}),
                  content_type="application/json")
    assert resp.status_code == 400 and resp.json()["detail"].startswith("年度：")
    assert not PaymentCycle.objects.exists()


def test_a_new_household_from_the_form_never_joins_an_existing_one(personas: Personas) -> None:
    area = village()
    for n in (1, 3):  # two households, numbered with a gap: counting them gives -0003
        hh = Household.objects.create(number=f"{VILLAGE_A}-{n:04d}", area=area,
                                      hukou_type="rural")
        actions.create_person(personas.cadre_a, name=f"户主{n}", household=hh,
                              id_number=new_id(date(1980, 1, n), "M"), sex="M",
                              birth_date=date(1980, 1, n), area=area, hukou_type="rural")
    c = Client()
    assert c.login(username="cadre_a", password=PASSWORD)
    resp = c.post(reverse("registry:person_new"), {
        "name": "蔡思琪", "id_number": new_id(date(1991, 1, 2), "F"), "sex": "女",
        "birth_date": "1991-01-02", "area_code": VILLAGE_A, "hukou_type": "农业",
        "household": "", "new_household": "1",
        "death_date": "", "father_id": "", "mother_id": "", "bank_name": "",
        "account": ""})
    assert resp.status_code == 302
    person = Person.objects.get(name="蔡思琪")
    assert person.household is not None
    assert person.household.number == f"{VILLAGE_A}-0004"
    assert list(person.household.members.all()) == [person]


def test_a_nul_byte_in_a_chosen_code_is_no_program_or_area(personas: Personas) -> None:
    """A program or area code with a NUL byte names the field (on PostgreSQL, which refuses
    NUL in text, the look-up was a server error)."""
    def as_user(user: object) -> Client:
        c = Client()
        c.force_login(user)
        return c

    code = "childcare-subsidy\x00"
    resp = as_user(personas.cadre_a).post(reverse("cases:new"), {"program": code})
    assert resp.status_code == 400 and "项目：请选择项目" in resp.content.decode()
    resp = as_user(personas.finance).post(reverse("payments:cycle_new"),
                                          {"program": code, "claim_year": "2026"}, follow=True)
    assert "请选择项目" in resp.content.decode()
    assert not PaymentCycle.objects.exists()
    resp = as_user(personas.cadre_a).post(reverse("notices:new"),
                                          {"program": "rural-reward\x00",
                                           "start_on": "2026-06-15"})
    assert "请选择项目" in resp.content.decode()
    resp = as_user(personas.county).post(reverse("feeds:tokens"),
                                         {"area": "445224000000\x00", "label": "x"})
    assert resp.status_code == 400 and "区域：请选择" in resp.content.decode()


@pytest.mark.parametrize(("url", "param", "clean"), [
    ("/cases/", "q", "林"), ("/registry/persons/", "q", "林"),
    ("/registry/households/", "q", "林"), ("/audit/", "from", "2026-06-01"),
    ("/api/persons", "q", "林"), ("/api/cases", "after", "")])
def test_a_nul_in_a_query_parameter_is_refused_naming_it(personas: Personas, url: str,
                                                         param: str, clean: str) -> None:
    """PostgreSQL cannot hold U+0000 in text: a search for it was a 500 there."""
    from django.test import Client

    client = Client()
    assert client.login(username="auditor" if url == "/audit/" else "county",
                        password=PASSWORD)
    resp = client.get(url, {param: clean + "\x00"})
    assert resp.status_code == 400
    body = resp.json()["detail"] if url.startswith("/api/") else resp.content.decode()
    assert f"查询参数「{param}」含有空字符（NUL）" in body
    assert client.get(url, {param: clean}).status_code == 200
