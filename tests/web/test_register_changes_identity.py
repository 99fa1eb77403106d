"""Change requests: correcting identity fields and recording a death (township level)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.idnumber import make
from huimin.registry import changes
from huimin.registry.models import ChangeRequest, ChangeStatus, Person
from huimin.registry.signals import person_changed
from tests.conftest import VILLAGE_A, Personas
from tests.web.cases_helpers import make_rural_couple
from tests.web.changes_helpers import (
    PNG,
    _media_root,  # noqa: F401  (autouse)
    assert_roles,
    submit,
)

pytestmark = pytest.mark.django_db


def test_name_correction_works(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"})
    assert req.confirm_level == "township" and req.old_values == {"name": "王桂兰"}
    assert req.evidence_sha256 and req.read_evidence() == PNG
    assert not req.evidence.open("rb").read().startswith(b"\x89PNG")  # sealed at rest
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂兰"  # nothing until confirmed
    changes.confirm_change(personas.township, req)
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂芳"
    req.refresh_from_db()
    assert req.status == ChangeStatus.CONFIRMED and req.decided_by == personas.township
    ev = AuditEvent.objects.get(action="person.identity")
    assert ev.data["changes"] == [{"field": "姓名", "old": "王桂兰", "new": "王桂芳"}]


def test_id_birth_and_sex_correction_works(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    born = date(1966, 5, 2)
    number = make("445224", born, 42)  # an even sequence: a woman
    sent: list[dict[str, object]] = []
    person_changed.connect(lambda sender, **kw: sent.append(kw), weak=False,
                           dispatch_uid="test-identity")
    try:
        req = submit(personas.cadre_a, "identity", couple.wife,
                     {"birth_date": "1966-05-02", "id_number": number})
        assert number not in str(req.new_values) and number not in req.secret_sealed
        assert req.new_values["id_number"] == number[0] + "*" * 16 + number[-1]
        changes.confirm_change(personas.county, req)
    finally:
        person_changed.disconnect(dispatch_uid="test-identity")
    wife = Person.objects.get(pk=couple.wife.pk)
    assert wife.id_number == number and wife.birth_date == born
    assert [s["kind"] for s in sent] == ["identity"]
    assert number not in str(AuditEvent.objects.get(action="person.identity").data)


def test_identity_wrong_role_and_outsiders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    for actor in (personas.finance, personas.auditor):
        with pytest.raises(Forbidden):
            submit(actor, "identity", couple.wife, {"name": "王桂芳"})
    for actor in (personas.cadre_b, personas.cadre_c, personas.township_c):
        with pytest.raises(Forbidden, match="管辖范围"):
            submit(actor, "identity", couple.wife, {"name": "王桂芳"})
    req = submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"})
    # a village cadre cannot confirm an identity change; nor finance; nor another township
    assert_roles(personas, req, wrong=[personas.cadre_a, personas.finance, personas.auditor],
                 outsiders=[personas.township_b, personas.township_c, personas.county_b])
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂兰"


def test_four_eyes_township_cannot_confirm_own(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.township, "identity", couple.wife, {"name": "王桂芳"})
    with pytest.raises(Forbidden, match="本人提交"):
        changes.confirm_change(personas.township, req)
    assert not changes.pending_for(personas.township).filter(pk=req.pk).exists()
    assert changes.pending_for(personas.county).filter(pk=req.pk).exists()


@pytest.mark.parametrize(("values", "message"), [
    ({"id_number": "445224196605010020"}, "身份证号码："),  # check digit wrong
    ({"birth_date": "1966-05-02"}, "身份证号码：号码中的出生日期"),
    ({"sex": "男"}, "身份证号码："),
    ({"name": "王\n桂"}, "姓名："),
    ({"birth_date": "2999-01-01"}, "出生日期：晚于今天"),
    ({"name": "王桂兰"}, "更正内容：与现登记内容相同"),
])
def test_identity_bad_input(personas: Personas, values: dict[str, str], message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match=message):
        submit(personas.cadre_a, "identity", couple.wife, values)
    assert not ChangeRequest.objects.exists()


def test_identity_needs_evidence_and_a_reason(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match="证明材料"):
        submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"}, evidence=False)
    with pytest.raises(ActionError, match="变更原因：不能为空"):
        submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"}, reason=" ")
    with pytest.raises(ActionError, match="扩展名"):
        changes.submit_change(personas.cadre_a, kind="identity", person=couple.wife,
                              reason="更正", values={"name": "王桂芳"},
                              evidence=(b"not a png", "x.png"))
    assert not ChangeRequest.objects.exists()


def test_an_id_number_registered_to_someone_else_is_refused(personas: Personas) -> None:
    one = make_rural_couple(personas.cadre_a, VILLAGE_A)
    two = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周",
                            wife_born=one.wife.birth_date)
    with pytest.raises(ActionError, match="身份证号码：该号码已有登记"):
        submit(personas.cadre_a, "identity", two.wife, {"id_number": one.wife.id_number})


def test_frozen_once_submitted(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂芳"})
    req.new_values = {"name": "别的名字"}
    with pytest.raises(ValueError, match="不能修改"):
        req.save()
    with pytest.raises(Conflict, match="已有待确认的同类申请"):
        submit(personas.cadre_a, "identity", couple.wife, {"name": "王桂香"})


# ------------------------------------------------------------------------ deaths

def test_death_works(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    died = (date.today() - timedelta(days=2)).isoformat()
    req = submit(personas.cadre_a, "death", couple.husband,
                 {"death_date": died, "source": "县卫生健康局", "certificate": "Q001"},
                 evidence=False)
    assert req.confirm_level == "township"
    changes.confirm_change(personas.township, req)
    husband = Person.objects.get(pk=couple.husband.pk)
    assert husband.death_date.isoformat() == died and husband.death_certificate == "Q001"


def test_death_wrong_role_and_outsiders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    values = {"death_date": "2026-01-05", "source": "村委会"}
    with pytest.raises(Forbidden):
        submit(personas.finance, "death", couple.husband, values)
    with pytest.raises(Forbidden):
        submit(personas.cadre_b, "death", couple.husband, values)
    req = submit(personas.cadre_a, "death", couple.husband, values)
    assert_roles(personas, req, wrong=[personas.cadre_a, personas.finance],
                 outsiders=[personas.township_b, personas.township_c])
    assert Person.objects.get(pk=couple.husband.pk).death_date is None


@pytest.mark.parametrize(("values", "message"), [
    ({"death_date": "2999-01-01", "source": "卫健局"}, "死亡日期：晚于今天"),
    ({"death_date": "1950-01-01", "source": "卫健局"}, "死亡日期：早于出生日期"),
    ({"death_date": "2026-02-30", "source": "卫健局"}, "死亡日期：.*不是有效日期"),
    ({"death_date": "", "source": "卫健局"}, "死亡日期：不能为空"),
    ({"death_date": "2026-01-05", "source": ""}, "死亡信息来源：不能为空"),
])
def test_death_bad_input(personas: Personas, values: dict[str, str], message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match=message):
        submit(personas.cadre_a, "death", couple.husband, values)
    assert not ChangeRequest.objects.exists()


def test_reject_needs_a_reason_and_changes_nothing(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    req = submit(personas.cadre_a, "death", couple.husband,
                 {"death_date": "2026-01-05", "source": "村委会"})
    with pytest.raises(ActionError, match="驳回理由：不能为空"):
        changes.reject_change(personas.township, req, reason="")
    changes.reject_change(personas.township, req, reason="经核实本人健在")
    req.refresh_from_db()
    assert req.status == ChangeStatus.REJECTED and req.decision_reason == "经核实本人健在"
    assert Person.objects.get(pk=couple.husband.pk).death_date is None
    with pytest.raises(Conflict, match="已驳回"):
        changes.confirm_change(personas.county, req)


def test_key_rotation_reseals_the_request_secret_and_evidence(personas: Personas, settings: Any,
                                                              tmp_path: Path) -> None:
    import secrets

    from cryptography.exceptions import InvalidTag

    from huimin.accounts.keys import rotate_data_key
    from huimin.registry import crypto

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATA_KEY = settings.DATA_KEY  # restored after the test
    crypto.box.cache_clear()
    try:
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        number = make("445224", date(1966, 5, 2), 42)
        req = submit(personas.cadre_a, "identity", couple.wife,
                     {"birth_date": "1966-05-02", "id_number": number})
        old_box, before = crypto.box(), req.secret_sealed
        summary = rotate_data_key(secrets.token_urlsafe(40), actor=personas.admin)
        assert summary["change_requests"] == 1 and summary["change_evidence"] == 1
        fresh = ChangeRequest.objects.get(pk=req.pk)
        assert fresh.secret_sealed != before and fresh.read_evidence() == PNG
        with pytest.raises(InvalidTag):
            old_box.unseal(fresh.secret_sealed)
        changes.confirm_change(personas.township, fresh)
        assert Person.objects.get(pk=couple.wife.pk).id_number == number
    finally:
        crypto.box.cache_clear()
