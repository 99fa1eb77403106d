"""Controls of the review chain: required documents (必交) at each level, or a recorded
reason to go on without them; a payee account before the county approves."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import Case, Decision
from huimin.errors import ActionError
from huimin.programs.models import DocumentType, Program
from huimin.registry import actions as registry_actions
from huimin.registry.models import BankAccount
from tests.conftest import VILLAGE_A, Family, Personas, make_family

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CHILDCARE_REQUIRED = "出生医学证明、户口簿、银行卡或存折"


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def childcare_case(personas: Personas, family: Family | None = None, *,
                   account: bool = True) -> Case:
    fam = family or make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3))
    return actions.submit_application(
        personas.township, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother,
        bank_account=fam.account if account else None)


def upload_all(actor: Any, case: Case) -> None:
    for t in DocumentType.objects.filter(program=case.program, required=True):
        actions.add_document(actor, case, doc_type=t, data=PNG, filename=f"{t.code}.png")


def snapshot(case: Case) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (case.state, case.level, case.version, case.bank_account_id,
            Decision.objects.filter(case=case).count(),
            AuditEvent.objects.filter(case_id=case.pk).count())


def login(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_an_approval_with_required_documents_missing_is_refused_naming_them(
        personas: Personas, required_documents: None, media: None) -> None:
    case = childcare_case(personas)
    doc = DocumentType.objects.get(program=case.program, code="birth_certificate")
    actions.add_document(personas.township, case, doc_type=doc, data=PNG, filename="b.png")
    before = snapshot(case)
    with pytest.raises(ActionError) as exc:
        actions.township_review(personas.township, case, approve=True, comment="同意")
    assert exc.value.message.startswith("必交材料：缺少户口簿、银行卡或存折，不能审核通过")
    assert "出生医学证明" not in exc.value.message  # uploaded, so not named
    with pytest.raises(ActionError, match="必交材料：缺少户口簿"):  # blank is no reason
        actions.township_review(personas.township, case, approve=True, override_reason="  ")
    assert snapshot(case) == before


def test_with_every_required_document_the_approval_goes_through(
        personas: Personas, required_documents: None, media: None) -> None:
    case = childcare_case(personas)
    upload_all(personas.township, case)
    case = actions.township_review(personas.township, case, approve=True)
    case = actions.county_confirm(personas.county, case, approve=True)
    assert case.state == "approved"
    assert all(d.reason_codes == [] for d in Decision.objects.filter(case=case))


def test_an_override_reason_is_recorded_and_shown_to_the_next_level(
        personas: Personas, required_documents: None) -> None:
    case = childcare_case(personas)
    case = actions.township_review(personas.township, case, approve=True, comment="同意",
                                   override_reason="户口簿原件已现场核验，扫描件次日补交")
    assert case.state == "township_approved"
    d = Decision.objects.get(case=case, level="township", outcome="approved")
    assert d.reason_codes == ["documents_override"]
    assert d.comment == (f"同意；缺少必交材料（{CHILDCARE_REQUIRED}），继续审核的理由："
                         "户口簿原件已现场核验，扫描件次日补交")
    ev = AuditEvent.objects.get(case_id=case.pk, action="case.township_review")
    assert ev.data["documents_override"] == "户口簿原件已现场核验，扫描件次日补交"
    assert ev.data["documents_missing"] == ["birth_certificate", "hukou_register",
                                              "bank_card"]
    page = login(personas.county).get(reverse("cases:detail", args=[case.pk]))
    html = page.content.decode()
    assert 'data-testid="overrides"' in html
    assert "户口簿原件已现场核验，扫描件次日补交" in html
    assert "缺少必交材料，审核人写明理由后继续审核" in html  # the decision's reason label
    # the county level checks again: still missing, so it too must say why
    with pytest.raises(ActionError, match="必交材料：缺少出生医学证明"):
        actions.county_confirm(personas.county, case, approve=True)
    case = actions.county_confirm(personas.county, case, approve=True,
                                  override_reason="同意乡镇意见")
    assert case.state == "approved"


def test_the_review_form_refuses_and_names_the_documents(
        personas: Personas, required_documents: None) -> None:
    case = childcare_case(personas)
    c = login(personas.township)
    page = c.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'data-testid="missing-documents"' in page and "override_reason" in page
    before = snapshot(case)
    r = c.post(reverse("cases:act", args=[case.pk]),
               {"transition": "approve", "version": case.version}, follow=True)
    assert f"必交材料：缺少{CHILDCARE_REQUIRED}，不能审核通过" in r.content.decode()
    assert snapshot(case) == before
    r = c.post(reverse("cases:act", args=[case.pk]),
               {"transition": "approve", "version": case.version,
                "override_reason": "材料原件已核验"}, follow=True)
    case.refresh_from_db()
    assert case.state == "township_approved"


def test_rejecting_or_returning_needs_no_documents(personas: Personas,
                                                   required_documents: None) -> None:
    case = childcare_case(personas)
    case = actions.decide(personas.township, case, "return", comment="请补交户口簿")
    assert case.state == "returned"


def test_the_check_is_off_when_the_deployment_turns_it_off(personas: Personas,
                                                           settings: Any) -> None:
    settings.CASE_REQUIRED_DOCUMENTS = False
    case = childcare_case(personas)
    assert actions.township_review(personas.township, case, approve=True).state == (
        "township_approved")
    page = login(personas.county).get(reverse("cases:detail", args=[case.pk])).content
    assert b'data-testid="missing-documents"' not in page


# ------------------------------------------------------------------ payee account


def _without_account(personas: Personas) -> tuple[Family, Case]:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 4, 4))
    BankAccount.objects.filter(pk=fam.account.pk).update(active=False)
    return fam, childcare_case(personas, fam, account=False)


def test_a_missing_account_is_flagged_and_blocks_county_approval(personas: Personas) -> None:
    fam, case = _without_account(personas)
    page = login(personas.township).get(reverse("cases:detail", args=[case.pk])).content
    assert "未登记：县级审批前须在人员档案中登记收款账户" in page.decode()
    listing = login(personas.township).get(reverse("cases:list")).content.decode()
    assert listing.count('data-testid="no-account"') == 1
    case = actions.township_review(personas.township, case, approve=True)  # not yet needed
    before = snapshot(case)
    with pytest.raises(ActionError) as exc:
        actions.county_confirm(personas.county, case, approve=True)
    assert exc.value.message == ("收款账户：陈秀英 尚未登记收款银行账户，不能审批通过。"
                                 "请先在人员档案中登记账户，再审批")
    assert snapshot(case) == before
    # once an account is registered for the applicant, the approval takes it
    account = registry_actions.add_bank_account(personas.cadre_a, fam.mother,
                                                bank_name="中国农业银行惠来县支行",
                                                account="6228480012340000017")
    page = login(personas.county).get(reverse("cases:detail", args=[case.pk])).content
    assert "受理时未登记；已登记" in page.decode()
    case = actions.county_confirm(personas.county, case, approve=True)
    assert (case.state, case.bank_account_id) == ("approved", account.pk)
    ev = AuditEvent.objects.get(case_id=case.pk, action="case.county_confirm")
    assert ev.data["bank_account"] == account.pk
    listing = login(personas.township).get(reverse("cases:list")).content.decode()
    assert 'data-testid="no-account"' not in listing


def test_the_subjects_own_account_serves_when_the_applicant_has_none(
        personas: Personas) -> None:
    fam, case = _without_account(personas)
    case = actions.township_review(personas.township, case, approve=True)
    own = registry_actions.add_bank_account(personas.cadre_a, fam.child,
                                            bank_name="惠来县农村信用合作联社",
                                            account="6229538800110000012")
    case = actions.county_confirm(personas.county, case, approve=True)
    assert case.bank_account_id == own.pk


def test_intake_without_an_account_warns(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 5, 5))
    BankAccount.objects.filter(pk=fam.account.pk).update(active=False)
    r = login(personas.cadre_a).post(reverse("cases:new"), {
        "program": "childcare-subsidy", "claim_year": "2026",
        "subject_id_number": fam.child.id_number,
        "applicant_id_number": fam.mother.id_number}, follow=True)
    html = r.content.decode()
    assert "已受理" in html
    assert "收款账户：陈秀英 尚未登记收款银行账户，县级审批前须在人员档案中登记" in html


def test_the_api_refuses_missing_documents_and_records_an_override(
        personas: Personas, required_documents: None, media: None) -> None:
    case = childcare_case(personas)
    before = snapshot(case)
    client = login(personas.township)
    url = f"/api/cases/{case.pk}/township-review"
    resp = client.post(url, {"approve": True, "comment": "同意"},
                       content_type="application/json")
    assert resp.status_code == 400 and "必交材料：缺少" in resp.json()["detail"]
    assert snapshot(case) == before
    resp = client.post(url, {"approve": True, "override_reason": "原件已现场核验，次日补交"},
                       content_type="application/json")
    assert resp.status_code == 200, resp.content
    d = Decision.objects.filter(case=case).order_by("-id").first()
    assert d is not None and d.reason_codes == ["documents_override"]
    ev = AuditEvent.objects.filter(case_id=case.pk, data__documents_override__isnull=False).get()
    assert ev.data["documents_override"] == "原件已现场核验，次日补交"
    # the county's own check, by the generic decision endpoint
    resp = login(personas.county).post(f"/api/cases/{case.pk}/decide", {"action": "approve"},
                                       content_type="application/json")
    assert resp.status_code == 400 and "必交材料：缺少" in resp.json()["detail"]
