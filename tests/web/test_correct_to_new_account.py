"""A failed payment line corrected to an account registered after the batch, end to end."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.payments import actions as pay
from huimin.payments.models import LineStatus, PaymentLine
from huimin.registry import actions as registry_actions
from tests.conftest import PASSWORD, Personas
from tests.web.test_payments import cycle_of, world
from tests.web.test_recoveries import clean

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def test_a_failed_line_is_corrected_to_an_account_added_after_the_batch(
    personas: Personas,
) -> None:
    w = world(personas, 2)
    cycle = cycle_of(personas)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    failed = PaymentLine.objects.get(case=w.cases[0])
    pay.import_return(personas.finance, batch,
                      pay.sample_return(batch, {failed.reference: "账户已销户"}))
    clean(cycle)
    fam = w.families[0]
    # registered after the batch: the father's new card (subject is the child, applicant the
    # mother: only their accounts may be paid) and the mother's new card
    other = registry_actions.add_bank_account(personas.cadre_a, fam.father,
                                              bank_name="惠来农商银行",
                                              account="6231000000000000123")
    new = registry_actions.add_bank_account(personas.cadre_a, fam.mother,
                                            bank_name="惠来农商银行",
                                            account="6231000000000000777")
    client = Client()
    assert client.login(username="finance", password=PASSWORD)
    page = client.get(reverse("payments:detail", args=[batch.pk])).content.decode()
    form = page[page.index(reverse("payments:correct", args=[failed.pk])):]
    form = form[:form.index("</form>")]
    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', form)}
    assert offered == {fam.account.pk, new.pk}  # every active account of the mother
    assert other.pk not in offered
    # a third person's account is refused even when posted by hand
    resp = client.post(reverse("payments:correct", args=[failed.pk]),
                       {"bank_account": other.pk, "note": "已核实"})
    assert resp.status_code == 302
    assert not PaymentLine.objects.filter(pk=failed.pk, correction__isnull=False).exists()
    # and so is a choice that is not an id (it was a server error)
    for junk in ("1e3", "0x10", "-1", "9" * 30):
        resp = client.post(reverse("payments:correct", args=[failed.pk]),
                           {"bank_account": junk, "note": "已核实"}, follow=True)
        assert "请选择申请人或补贴对象的收款账户" in resp.content.decode()
    assert not PaymentLine.objects.filter(pk=failed.pk, correction__isnull=False).exists()
    resp = client.post(reverse("payments:correct", args=[failed.pk]),
                       {"bank_account": new.pk, "note": "已电话核实，原卡已销户，更换新卡"})
    assert resp.status_code == 302
    failed.refresh_from_db()
    assert failed.correction.bank_account_id == new.pk
    clean(cycle)
    again = pay.create_batch(personas.finance, cycle)
    line = again.lines.get()
    assert (line.case_id, line.bank_account_id) == (w.cases[0].pk, new.pk)
    pay.release_batch(personas.county, again)
    data = pay.export_batch(personas.finance, again).decode("utf-8-sig")
    assert "6231000000000000777" in data
    pay.import_return(personas.finance, again, pay.sample_return(again))
    line.refresh_from_db()
    assert line.status == LineStatus.PAID
    clean(cycle)
