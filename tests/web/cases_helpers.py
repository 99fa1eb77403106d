"""Building 奖励扶助 families and cases through actions, as the office would."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from tests.conftest import ID_SEQ, new_id


@dataclass
class Couple:
    husband: Any
    wife: Any
    child: Any
    household: Any
    account: Any


def make_rural_couple(actor: Any, village: str, *, husband_born: date = date(1964, 3, 1),
                      wife_born: date = date(1966, 5, 1), surname: str = "李",
                      children: int = 1, child_died: date | None = None) -> Couple:
    from huimin.registry import actions
    from huimin.registry.models import Area, Household

    area = Area.objects.get(code=village)
    hh = Household.objects.create(number=f"{village}-{next(ID_SEQ):05d}", area=area,
                                  hukou_type="rural")

    def person(name: str, sex: str, born: date, died: date | None = None) -> Any:
        return actions.create_person(actor, name=name, id_number=new_id(born, sex), sex=sex,
                                     birth_date=born, area=area, hukou_type="rural",
                                     household=hh, death_date=died)

    husband = person(surname + "大山", "M", husband_born)
    wife = person("王桂兰", "F", wife_born)
    first = None
    for i in range(children):
        kid = person(surname + "春" + "一二三"[i], "M" if i else "F", date(1990 + 2 * i, 8, 8),
                     child_died if i == 0 else None)
        actions.link_parent(husband, kid, "father")
        actions.link_parent(wife, kid, "mother")
        first = first or kid
    account = actions.add_bank_account(actor, husband, bank_name="惠来县农村信用合作联社",
                                       account="6229538800112233445")
    return Couple(husband, wife, first, hh, account)


def apply_rural(actor: Any, person: Any, *, year: int = 2026, confirmed: bool = True,
                **kw: Any) -> Any:
    from huimin.cases import actions
    from huimin.programs.models import Program

    return actions.submit_application(
        actor, program=Program.objects.get(code="rural-reward"), subject=person,
        claim_year=year, bank_account=person.bank_accounts.filter(active=True).first(),
        facts={"policy_status_confirmed": confirmed}, **kw)


@dataclass
class CasesWorld:
    """Cases of village A at each point the matrix needs (built on 2026-06-15)."""

    posted: Any  # approved by the village, on a notice running 06-15..06-21
    notice: Any
    objection: Any  # open, against ``posted``
    fresh: Any  # waiting for the village
    rejected: Any
    returned: Any
    document: Any
    household: Any


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def matrix_world(personas: Any) -> CasesWorld:
    from huimin.cases import actions
    from huimin.programs.models import DocumentType, Program

    cadre = personas.cadre_a
    village = "445224100201"
    one = make_rural_couple(cadre, village)
    posted = apply_rural(cadre, one.husband)
    actions.decide(cadre, posted, "approve")
    notice = actions.publish_notice(cadre, program=Program.objects.get(code="rural-reward"),
                                    start_on=actions.local_today(), objection_info="村委会")
    posted.refresh_from_db()
    objection = actions.record_objection(cadre, posted, content="对其子女情况有异议")
    kind = DocumentType.objects.get(program__code="rural-reward", code="hukou_register")
    document = actions.add_document(cadre, posted, doc_type=kind, data=PNG, filename="户口簿.png")
    fresh = apply_rural(cadre, one.wife)
    two = make_rural_couple(cadre, village, surname="周")
    actions.decide(cadre, apply_rural(cadre, two.husband), "approve")  # waits for a notice
    rejected = apply_rural(cadre, two.wife, confirmed=False, record_rejected=True)
    three = make_rural_couple(cadre, village, surname="吴")
    returned = actions.decide(cadre, apply_rural(cadre, three.husband), "return",
                              comment="请补交户口簿")
    return CasesWorld(posted, notice, objection, fresh, rejected, returned, document,
                      one.household)


def restore_reference_data() -> None:
    """A transactional test starts from a flushed database: put back the county's areas and
    the programs with their checklists, as the session set-up and the migrations made them."""
    from django.apps import apps

    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    if not Area.objects.filter(code="445224100201").exists():
        load_county("445224")
    for name in ("0002_seed_programs", "0004_seed_document_checklists"):
        module = importlib.import_module(f"huimin.programs.migrations.{name}")
        module.seed(apps, None)
