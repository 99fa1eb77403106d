"""迁入登记 in Debian's chromium: the receiving village cadre uploads the other county's Excel
hand-over record and lands on the registered person. Shot at 1366 and 390 px wide."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.browser.test_register_changes import both
from tests.conftest import VILLAGE_A, VILLAGE_C, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_excel_hand_over_record_is_imported(page: Any, live_server: Any,
                                               personas: Personas, tmp_path: Path) -> None:
    from huimin.cases.actions import local_today
    from huimin.registry import actions, handover
    from huimin.registry.models import Handover
    from tests.web.cases_helpers import apply_rural, make_rural_couple

    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    apply_rural(personas.cadre_a, couple.husband)
    actions.move_person(personas.cadre_a, couple.husband, to_code=VILLAGE_C,
                        moved_on=local_today() - timedelta(days=2))
    record = tmp_path / "移交记录.xlsx"
    record.write_bytes(handover.as_xlsx(Handover.objects.get(person=couple.husband)))

    login(page, live_server.url, "cadre_c")
    page.goto(f"{live_server.url}/registry/handovers/import/")
    page.set_input_files("#f-file", str(record))
    both(page, "handover-01-import")
    page.click("button:has-text('导入并登记')")
    page.wait_for_selector("text=已登记迁入人员")
    assert "请按本县规定重新受理" in page.content()
    assert couple.husband.id_number not in page.content()  # the page masks the number
    both(page, "handover-02-registered")
    couple.husband.refresh_from_db()
    assert couple.husband.area.code == VILLAGE_C
