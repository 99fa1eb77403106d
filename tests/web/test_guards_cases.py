"""Refusals of ``huimin.cases.actions`` no other test reaches.

Each refused call asserts its Chinese message and that nothing changed: no audit event, no
case, decision, notice, objection or document row written or altered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import Case, CaseDocument, Decision, Notice, NoticeEntry, Objection
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.programs.models import DocumentType, Program
from huimin.registry import actions as registry_actions
from tests.conftest import TOWNSHIP_A, VILLAGE_A, Family, Personas, make_user
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"scan" * 10


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def snapshot() -> dict[str, Any]:
    return {
        "events": list(AuditEvent.objects.order_by("id").values_list("id", flat=True)),
        "cases": list(Case.objects.order_by("id").values_list(
            "id", "state", "version", "level", "facts", "applicant_id", "bank_account_id")),
        "decisions": Decision.objects.count(),
        "notices": Notice.objects.count(),
        "entries": list(NoticeEntry.objects.values_list("id", "withdrawn_at")),
        "objections": list(Objection.objects.values_list("id", "status", "finding")),
        "documents": CaseDocument.objects.count(),
    }


def refused(exc: type[Exception], match: str, call: Callable[[], object]) -> None:
    before = snapshot()
    with pytest.raises(exc, match=match):
        call()
    assert snapshot() == before


def childcare() -> Program:
    return Program.objects.get(code="childcare-subsidy")


def submit_child(personas: Personas, fam: Family, **kw: Any) -> Any:
    args: dict[str, Any] = {"applicant": fam.mother, "bank_account": fam.account, **kw}
    return lambda: actions.submit_application(personas.cadre_a, program=childcare(),
                                              subject=fam.child, claim_year=2026, **args)


def test_intake_refusals(personas: Personas, family_a: Family) -> None:
    refused(Forbidden, "的户籍不在您的管辖范围内", lambda: actions.submit_application(
        personas.cadre_b, program=childcare(), subject=family_a.child, claim_year=2026,
        applicant=family_a.mother))
    refused(ActionError, "申请人须为该儿童的父母或监护人", submit_child(personas, family_a,
                                                                       applicant=None))
    refused(ActionError, "申请人须为该儿童的父母或监护人", submit_child(
        personas, family_a, applicant=family_a.child))
    stranger = registry_actions.add_bank_account(personas.cadre_a, family_a.father,
                                                 bank_name="惠来农商银行",
                                                 account="6231000000000000555")
    refused(ActionError, "收款账户须属于申请人或补贴对象",
            submit_child(personas, family_a, applicant=family_a.mother, bank_account=stranger))
    for grade in ("x", "7"):
        refused(ActionError, "子女残疾等级：应为 1–4 的数字",
                submit_child(personas, family_a, facts={"child_disability_grade": grade}))
    # eligible, so it cannot be recorded as refused at intake: the case is not kept either
    refused(ActionError, "经核算符合条件，不能登记为不予通过",
            submit_child(personas, family_a, record_rejected=True))


def test_an_adult_program_takes_a_named_applicant(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband, applicant=couple.wife)
    assert (case.subject_id, case.applicant_id) == (couple.husband.pk, couple.wife.pk)


def test_review_refusals(personas: Personas, family_a: Family) -> None:
    case = submit_child(personas, family_a)()
    refused(ActionError, "未知的审核操作",
            lambda: actions.decide(personas.township, case, "bogus"))
    refused(ActionError, "理由为「其他」时须填写审核意见", lambda: actions.decide(
        personas.township, case, "reject", reason_codes=["other"], comment=" "))
    refused(Forbidden, "只有村级专干或乡镇审核员可以补正后重新提交",
            lambda: actions.resubmit(personas.county, case, comment="x"))
    refused(Conflict, "不需要补正", lambda: actions.resubmit(personas.cadre_a, case))
    refused(Forbidden, "只有村、乡镇、县级经办人员可以登记复核申请",
            lambda: actions.request_review(personas.finance, case, comment="x"))
    assert actions.ready_problem(case, date(2026, 6, 15)) == ""
    actions.township_review(personas.township, case, approve=True)
    done = actions.county_confirm(personas.county, case, approve=True)
    assert actions.ready_problem(done, date(2026, 6, 15)) == ""  # no longer under review


def test_resubmitted_facts_are_kept(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband, confirmed=False)
    case = actions.decide(personas.cadre_a, case, "return", comment="请核实计生政策情况")
    case = actions.resubmit(personas.cadre_a, case, comment="已核实",
                            facts={"policy_status_confirmed": True})
    assert case.state == "submitted" and case.facts["policy_status_confirmed"] is True
    assert case.eligible


def test_document_refusals(personas: Personas, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    kind = DocumentType.objects.get(program__code="rural-reward", code="hukou_register")
    other = DocumentType.objects.exclude(program__code="rural-reward").first()
    assert other is not None
    refused(ActionError, "文件为空", lambda: actions.add_document(
        personas.cadre_a, case, doc_type=kind, data=b"", filename="a.png"))
    refused(Forbidden, "您的角色不能上传申请材料", lambda: actions.add_document(
        personas.finance, case, doc_type=kind, data=PNG, filename="a.png"))
    refused(ActionError, "该材料不属于本项目的材料清单", lambda: actions.add_document(
        personas.cadre_a, case, doc_type=other, data=PNG, filename="a.png"))
    Case.objects.filter(pk=case.pk).update(state="approved")  # a state documents cannot join
    refused(ActionError, "不能再补充材料", lambda: actions.add_document(
        personas.cadre_a, case, doc_type=kind, data=PNG, filename="a.png"))


def publish(actor: Any, start: date = date(2026, 6, 15), info: str = "村委会，0663-6612345"
            ) -> Callable[[], object]:
    return lambda: actions.publish_notice(actor, program=Program.objects.get(
        code="rural-reward"), start_on=start, objection_info=info)


def test_notice_refusals(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    actions.decide(personas.cadre_a, case, "approve")
    refused(Forbidden, "只有村、乡镇、县级审核人员可以发布公示", publish(personas.finance))
    refused(ActionError, "公示开始日期不能早于今天", publish(personas.cadre_a, date(2026, 6, 14)))
    refused(ActionError, "请写明异议受理的地点、电话和方式", publish(personas.cadre_a, info=" "))
    astray = make_user("cadre_of_township", "village_cadre", TOWNSHIP_A)
    refused(Forbidden, "您没有分配村级管辖区域，不能发布公示", publish(astray))


def test_objection_refusals(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    actions.decide(personas.cadre_a, case, "approve")
    publish(personas.cadre_a)()
    refused(Forbidden, "只有村、乡镇、县级经办人员可以登记公示异议",
            lambda: actions.record_objection(personas.finance, case, content="x"))
    refused(ActionError, "请写明异议针对的资格条件和事实",
            lambda: actions.record_objection(personas.cadre_a, case, content="  "))
    objection = actions.record_objection(personas.cadre_a, case, content="年龄可能不够")
    refused(ActionError, "请填写核实情况", lambda: actions.resolve_objection(
        personas.cadre_a, objection, upheld=False, finding=" "))
    actions.resolve_objection(personas.cadre_a, objection, upheld=False, finding="已满 60 周岁")
    refused(Conflict, "该异议已核实处理", lambda: actions.resolve_objection(
        personas.cadre_a, objection, upheld=True, finding="再次"))
