"""Change request pages: the form per type, the list for the confirming role, a request's
page with confirm / reject, the evidence, the hand-over download, the household timeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases.actions import local_today
from huimin.registry import changes
from huimin.registry.models import ChangeRequest, Handover, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_C, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple
from tests.web.changes_helpers import (
    CARD,
    PNG,
    _media_root,  # noqa: F401  (autouse)
    submit,
)

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def test_every_form_renders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    c = login("cadre_a")
    r = c.get(reverse("registry:person", args=[couple.wife.pk]))
    assert "申请变更" in r.content.decode()
    for kind in changes.PERSON_KINDS:
        r = c.get(reverse("registry:person_change_new", args=[couple.wife.pk]),
                  {"kind": kind.code})
        assert r.status_code == 200 and kind.label in r.content.decode()
    for kind in changes.HOUSEHOLD_KINDS:
        r = c.get(reverse("registry:household_change_new", args=[couple.household.pk]),
                  {"kind": kind.code})
        assert r.status_code == 200 and kind.label in r.content.decode()


def test_submit_and_confirm_through_the_pages(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    c = login("cadre_a")
    url = reverse("registry:person_change_new", args=[couple.wife.pk])
    r = c.post(url, {"kind": "identity", "name": "王桂芳", "reason": "户口簿登记为王桂芳",
                     "applicant": "王桂芳",
                     "evidence": SimpleUploadedFile("户口簿.png", PNG, "image/png")})
    assert r.status_code == 302
    req = ChangeRequest.objects.get()
    assert r["Location"] == reverse("registry:change", args=[req.pk])
    page = c.get(r["Location"]).content.decode()
    assert "王桂兰" in page and "王桂芳" in page and "另一名经办人" in page
    assert 'data-testid="confirm"' not in page  # not the submitter's to confirm
    assert c.get(reverse("registry:changes")).content.decode().count(req.number) == 0
    t = login("township")
    assert req.number in t.get(reverse("registry:changes")).content.decode()
    shown = t.get(reverse("registry:change_evidence", args=[req.pk]))
    assert b"".join(shown.streaming_content) == PNG
    r = t.post(reverse("registry:change_confirm", args=[req.pk]))
    assert r.status_code == 302
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂芳"
    assert "已确认并生效" in t.get(r["Location"]).content.decode()


def test_bad_input_is_shown_with_the_field_and_nothing_saved(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    c = login("cadre_a")
    r = c.post(reverse("registry:person_change_new", args=[couple.wife.pk]),
               {"kind": "account_add", "bank_name": "农商银行", "account": "6228480012345678901",
                "verified_how": "持卡核对", "reason": "新办卡"})
    assert r.status_code == 400
    page = r.content.decode()
    assert "银行卡号：校验位不符" in page and 'value="农商银行"' in page
    assert not ChangeRequest.objects.exists()


def test_wrong_role_gets_403(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"})
    f = login("finance")
    assert f.get(reverse("registry:person_change_new", args=[couple.wife.pk])).status_code == 403
    assert f.get(reverse("registry:household_change_new",
                         args=[couple.household.pk])).status_code == 403
    a = login("cadre_a")  # identity changes are confirmed by the township
    assert a.post(reverse("registry:change_confirm", args=[req.pk])).status_code == 403
    assert f.post(reverse("registry:change_reject", args=[req.pk]),
                  {"reason": "x"}).status_code == 403
    assert ChangeRequest.objects.get(pk=req.pk).status == "submitted"


def test_outsiders_get_404(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"})
    for user in ("cadre_b", "township_c", "county_b"):
        c = login(user)
        assert c.get(reverse("registry:person_change_new",
                             args=[couple.wife.pk])).status_code == 404
        assert c.get(reverse("registry:household_change_new",
                             args=[couple.household.pk])).status_code == 404
        assert c.get(reverse("registry:change", args=[req.pk])).status_code == 404
        assert c.get(reverse("registry:change_evidence", args=[req.pk])).status_code == 404
        assert c.post(reverse("registry:change_confirm", args=[req.pk])).status_code == 404
        assert req.number not in c.get(reverse("registry:changes"),
                                       {"status": "all"}).content.decode()
    assert ChangeRequest.objects.get(pk=req.pk).status == "submitted"


def test_reject_through_the_page_needs_a_reason(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "death", couple.husband,
                 {"death_date": local_today().isoformat(), "source": "村委会"})
    t = login("township")
    r = t.post(reverse("registry:change_reject", args=[req.pk]), {"reason": ""}, follow=True)
    assert "驳回理由：不能为空" in r.content.decode()
    t.post(reverse("registry:change_reject", args=[req.pk]), {"reason": "本人健在"})
    assert ChangeRequest.objects.get(pk=req.pk).status == "rejected"


def test_household_timeline_shows_who_and_old_to_new_masked(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "account_add", couple.wife,
                 {"bank_name": "惠来农商银行", "account": CARD, "verified_how": "持卡核对"})
    changes.confirm_change(personas.township, req)
    req = submit(personas.cadre_a, "head", couple.household, {"person": str(couple.wife.pk)})
    changes.confirm_change(personas.township, req)
    page = login("cadre_a").get(reverse("registry:household",
                                        args=[couple.household.pk])).content.decode()
    for text in ("提交变更申请", "确认变更申请（生效）", "登记银行账户", "变更户主",
                 "户主：（空） → 王桂兰", "惠来农商银行 ****"):
        assert text in page, text
    assert CARD not in page and couple.wife.id_number not in page


def test_handover_download(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    req = submit(personas.cadre_a, "move", couple.husband,
                 {"to_code": VILLAGE_C, "moved_on": (local_today() - timedelta(days=1))
                  .isoformat()})
    changes.confirm_change(personas.township, req)
    handover = Handover.objects.get()
    c = login("cadre_a")
    assert "迁出移交记录" in c.get(reverse("registry:person",
                                       args=[couple.husband.pk])).content.decode()
    r = c.get(reverse("registry:handover", args=[handover.pk, "json"]))
    data = json.loads(r.content)
    assert data["format"] == "huimin-handover/1" and data["to_code"] == VILLAGE_C
    assert data["person"]["id_number"] == couple.husband.id_number
    assert [x["number"] for x in data["cases"]] == [case.number]
    r = c.get(reverse("registry:handover", args=[handover.pk, "xlsx"]))
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert AuditEvent.objects.filter(action="handover.download").count() == 2
    assert login("finance").get(reverse("registry:handover",
                                        args=[handover.pk, "json"])).status_code == 403
    assert login("cadre_b").get(reverse("registry:handover",
                                        args=[handover.pk, "json"])).status_code == 404
