"""The county approver decides a duplicate claim in the browser: the held payment is named on
the queue, 核实无重复 releases it (at desk width and on a phone)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huimin.identity import runs
from huimin.identity.models import DuplicateClaim, PairStatus
from huimin.payments import actions as pay_actions
from huimin.payments.models import Entitlement, EntitlementStatus, HeldReason
from huimin.programs.models import Program
from tests.browser.conftest import login, shot
from tests.conftest import make_personas
from tests.web.payments_helpers import _approved

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1366, 390])
def test_the_county_clears_a_duplicate_claim_and_the_payment_is_released(
        page: Any, live_server: Any, tmp_path: Path, width: int) -> None:
    personas = make_personas()
    program = Program.objects.get(code="childcare-subsidy")
    fam = _approved(personas, program, date(2024, 2, 2), "郑")
    snap = tmp_path / "national.parquet"
    pq.write_table(pa.table({"person_key": pa.array([runs.person_key(fam.child.id_hash)],
                                                    pa.int64()),
                             "hukou_area_code": ["440524101001"]}), snap)
    runs.run_claims(personas.county, snap)
    pay_actions.build_cycle(personas.finance, program=program, claim_year=2026)
    ent = Entitlement.objects.get(case__subject=fam.child)
    assert ent.held_reason == HeldReason.DUPLICATE
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server.url, "county")
    page.goto(f"{live_server.url}/identity/#claims")
    table = page.locator("[data-testid=claims]")
    assert fam.child.id_masked in table.inner_text()
    assert "同一人在两个县申领" in table.inner_text()
    shot(page, f"identity-claims-{width}")
    row = table.locator("tr", has_text=fam.child.id_masked)
    row.locator("select[name=decision]").select_option("not_duplicate")
    row.locator("input[name=reason]").fill("与揭西县核实，系同名不同人")
    row.locator("[data-testid=decide-claim]").click()
    page.wait_for_selector("text=已裁定：核实无重复")
    shot(page, f"identity-claims-decided-{width}")
    ent.refresh_from_db()
    assert ent.status == EntitlementStatus.PAYABLE
    assert DuplicateClaim.objects.get(person=fam.child).status == PairStatus.DIFFERENT


@pytest.mark.django_db(transaction=True)
def test_a_pair_whose_masks_look_alike_shows_how_far_apart_the_numbers_are(
        page: Any, live_server: Any) -> None:
    from huimin.lib.idnumber import make
    from huimin.registry import actions as registry_actions
    from tests.conftest import VILLAGE_A, make_family
    from tests.web.identity_helpers import queued_pair

    personas = make_personas()
    child = make_family(personas.cadre_a, VILLAGE_A, date(2024, 5, 6)).child
    number = child.id_number
    twin = next(n for s in range(1000) if s % 2 == int(number[16]) % 2
                for n in [make(number[:6], child.birth_date, s)]
                if n[-1] == number[-1] and n != number)
    dup = registry_actions.create_person(personas.cadre_a, name=child.name, id_number=twin,
                                         sex=child.sex, birth_date=child.birth_date,
                                         area=child.area, hukou_type=child.hukou_type)
    pair = queued_pair(personas.county, child, dup)
    login(page, live_server.url, "township")
    page.goto(f"{live_server.url}/identity/pairs/{pair.pk}/")
    row = page.locator("tr.dup-differs", has_text="身份证号码")
    assert "与左侧相差" in row.inner_text()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"identity-pair-masked-{width}")


@pytest.mark.django_db(transaction=True)
def test_same_person_merges_and_both_records_say_so(page: Any, live_server: Any) -> None:
    from huimin.registry.models import Person
    from tests.conftest import VILLAGE_A, make_family
    from tests.web.identity_helpers import duplicate_of, queued_pair

    personas = make_personas()
    child = make_family(personas.cadre_a, VILLAGE_A, date(2024, 5, 6)).child
    dup = duplicate_of(personas.cadre_a, child, name=child.name[0] + "晓宝")
    pair = queued_pair(personas.county, child, dup)
    login(page, live_server.url, "township")
    page.goto(f"{live_server.url}/identity/pairs/{pair.pk}/")
    page.select_option(f"select[name=decision_{pair.pk}]", "same")
    page.select_option(f"select[name=keep_{pair.pk}]", "a")
    page.fill(f"input[name=reason_{pair.pk}]", "核对户口簿与出生医学证明，为同一人")
    page.click("text=提交裁决")
    page.wait_for_load_state("load")
    assert Person.objects.get(pk=dup.pk).merged_into_id == child.pk
    page.goto(f"{live_server.url}/registry/persons/{dup.pk}/")
    banner = page.locator("[data-testid=merged-into]")
    assert "核对户口簿与出生医学证明" in banner.inner_text()
    assert page.locator("[data-testid=change-new]").count() == 0
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"person-merged-away-{width}")
    banner.locator("a").click()
    page.wait_for_selector("[data-testid=merged-in]")
    assert dup.id_masked in page.locator("[data-testid=merged-in]").inner_text()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"person-merged-in-{width}")
