"""The cycle form: the period's format, the cut-off honoured or refused, no empty cycle."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError
from huimin.payments import actions as pay
from huimin.payments.models import Entitlement, PaymentCycle
from huimin.programs.models import Program
from tests.conftest import PASSWORD, Personas
from tests.web.payments_helpers import _approved

pytestmark = pytest.mark.django_db


def program() -> Program:
    return Program.objects.get(code="childcare-subsidy")


def unchanged() -> tuple[int, int, int]:
    return (PaymentCycle.objects.count(), Entitlement.objects.count(),
            AuditEvent.objects.filter(action="cycle.build").count())


def finance() -> Client:
    c = Client()
    assert c.login(username="finance", password=PASSWORD)
    return c


def test_a_cycle_with_no_approved_case_is_never_created(personas: Personas) -> None:
    with pytest.raises(ActionError) as exc:
        pay.build_cycle(personas.finance, program=program(), claim_year=2026, period="2026-Q2")
    assert exc.value.message == ("发放周期：惠来县2026 年度育儿补贴没有尚未纳入发放的已批准案件，"
                                 "未建立空的发放周期")
    assert unchanged() == (0, 0, 0)
    r = finance().post(reverse("payments:cycle_new"), {
        "program": "childcare-subsidy", "claim_year": "2026", "period": "2026-Q2"}, follow=True)
    assert "没有尚未纳入发放的已批准案件，未建立空的发放周期" in r.content.decode()
    assert unchanged() == (0, 0, 0)


def test_a_cycle_whose_cases_are_all_frozen_elsewhere_is_not_created(personas: Personas) -> None:
    _approved(personas, program(), date(2025, 1, 1), "林")
    pay.build_cycle(personas.finance, program=program(), claim_year=2026, period="2026-H1",
                    cut_off=date(2026, 6, 30))
    before = unchanged()
    with pytest.raises(ActionError) as exc:
        pay.build_cycle(personas.finance, program=program(), claim_year=2026, period="2026-H2")
    assert exc.value.message.startswith("发放周期：惠来县2026 年度育儿补贴没有尚未纳入发放")
    assert unchanged() == before


def test_building_again_honours_the_cycles_cut_off(personas: Personas) -> None:
    _approved(personas, program(), date(2025, 1, 1), "林")
    cycle = pay.build_cycle(personas.finance, program=program(), claim_year=2026,
                            cut_off=date(2026, 6, 30))
    _approved(personas, program(), date(2025, 2, 2), "黄")
    before = unchanged()
    with pytest.raises(ActionError) as exc:
        pay.build_cycle(personas.finance, program=program(), claim_year=2026,
                        cut_off=date(2026, 7, 31))
    assert exc.value.message == (f"截止日：发放周期 {cycle.number} 的截止日为 2026-06-30，"
                                 "补充冻结须使用同一截止日（可留空）；另定截止日请另建发放期")
    assert unchanged() == before
    again = pay.build_cycle(personas.finance, program=program(), claim_year=2026)
    assert (again.pk, again.cut_off, again.payable_count) == (cycle.pk, date(2026, 6, 30), 2)
    event = AuditEvent.objects.filter(action="cycle.build").order_by("-id").first()
    assert event is not None and event.data["cut_off"] == "2026-06-30"  # not today
    same = pay.build_cycle(personas.finance, program=program(), claim_year=2026,
                           cut_off=date(2026, 6, 30))
    assert same.pk == cycle.pk


def test_the_form_names_the_period_format(personas: Personas) -> None:
    _approved(personas, program(), date(2025, 1, 1), "林")
    r = finance().post(reverse("payments:cycle_new"), {
        "program": "childcare-subsidy", "claim_year": "2026", "period": "2026/06"}, follow=True)
    assert ("发放期：「2026/06」应为年度或年度加季、半年、月，如 2026、2026-Q2、2026-H1、"
            "2026-06") in r.content.decode()
    assert unchanged() == (0, 0, 0)
    page = finance().get(reverse("payments:list")).content.decode()
    assert "格式：年度 2026、季 2026-Q2、半年 2026-H1 或月 2026-06" in page


def test_the_finance_worklist_counts_the_approved_cases_not_yet_frozen(
        personas: Personas) -> None:
    """The tile 已确认，待纳入发放周期 counts the approved cases without an entitlement and
    opens the case list filtered to them; freezing empties it, the other approved tile
    keeps counting them until they are paid."""
    import re

    from huimin.cases.models import Case

    first = Case.objects.get(subject=_approved(personas, program(), date(2025, 1, 1), "林").child)
    pay.build_cycle(personas.finance, program=program(), claim_year=2026, period="2026-H1",
                    cut_off=date(2026, 6, 30))
    later = Case.objects.get(subject=_approved(personas, program(), date(2025, 2, 1), "郑").child)
    client = finance()
    home = client.get(reverse("home")).content.decode()
    tile = re.search(r'href="([^"]+)" data-tile="cases.to_freeze">.*?data-count="(\d+)"',
                     home, re.S)
    assert tile is not None and tile.group(2) == "1"
    listed = client.get(tile.group(1).replace("&amp;", "&")).content.decode()
    assert set(re.findall(r'href="/cases/(\d+)/"', listed)) == {str(later.pk)}
    frozen = client.get(reverse("cases:list"), {"payment": "frozen"}).content.decode()
    assert set(re.findall(r'href="/cases/(\d+)/"', frozen)) == {str(first.pk)}
    bad = client.get(reverse("cases:list"), {"payment": "soon"})
    assert bad.status_code == 400 and "发放周期" in bad.content.decode()
    pay.build_cycle(personas.finance, program=program(), claim_year=2026, period="2026-H1")
    home = client.get(reverse("home")).content.decode()
    assert re.search(r'data-tile="cases.to_freeze">.*?data-count="0"', home, re.S)
    assert re.search(r'data-tile="cases.approved">.*?data-count="2"', home, re.S)


@pytest.mark.parametrize("username", ["finance_b", "county_b", "cadre_c"])
def test_the_payment_filter_shows_no_case_outside_the_users_area(
        personas: Personas, username: str) -> None:
    """Another county's finance officer or approver, or a village cadre elsewhere: the
    filtered case list (and the tile) counts none of this county's approved cases."""
    import re

    from huimin.cases.models import Case

    case = Case.objects.get(subject=_approved(personas, program(), date(2025, 1, 1), "林").child)
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    for payment in ("unfrozen", "frozen"):
        r = c.get(reverse("cases:list"), {"state": "approved", "payment": payment})
        assert r.status_code == 200
        assert re.findall(r'href="/cases/(\d+)/"', r.content.decode()) == []
    home = c.get(reverse("home")).content.decode()
    tile = re.search(r'data-tile="cases.to_freeze">.*?data-count="(\d+)"', home, re.S)
    assert tile is None or tile.group(1) == "0"
    mine = finance().get(reverse("cases:list"), {"state": "approved", "payment": "unfrozen"})
    assert set(re.findall(r'href="/cases/(\d+)/"', mine.content.decode())) == {str(case.pk)}


def test_a_visitor_not_logged_in_is_sent_to_log_in_before_the_payment_filter_runs(
        personas: Personas) -> None:
    r = Client().get(reverse("cases:list"), {"payment": "unfrozen"})
    assert r.status_code == 302 and "/login/" in r["Location"]
