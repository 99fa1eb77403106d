"""The demo county's 奖励扶助 sample: applications, a village posting and an objection."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.cases.models import Case, Notice, Objection
from huimin.demo import create_users, rural_sample_cases
from huimin.registry.models import Area
from tests.conftest import COUNTY, VILLAGE_A, VILLAGE_B, make_user
from tests.web.cases_helpers import make_rural_couple

pytestmark = pytest.mark.django_db


def test_rural_sample_cases() -> None:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                             tick=False):
        village = Area.objects.get(code=VILLAGE_A)
        create_users(village, Area.objects.get(code=VILLAGE_B), Area.objects.get(code=COUNTY))
        helper = make_user("helper", "village_cadre", VILLAGE_A)
        make_rural_couple(helper, VILLAGE_A)
        make_rural_couple(helper, VILLAGE_A, surname="周", husband_born=datetime(1975, 1, 1).date())
        made = rural_sample_cases(village, datetime(2026, 6, 15).date())
    # both of the first couple and the wife of the second (60); her husband of 51 is not taken
    assert made == {"cases": 3, "approved": 3, "notices": 1}
    assert Case.objects.filter(state="village_approved").count() == 3
    assert not Case.objects.filter(subject__birth_date__year=1975).exists()
    assert Notice.objects.get().entries.count() == 3
    assert Objection.objects.filter(status="open").count() == 1
