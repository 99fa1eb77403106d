"""The demo county: real areas of 惠来县, synthetic residents, one user per role, sample cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Count, Q

from huimin.accounts.models import Role, User
from huimin.cases import actions as case_actions
from huimin.cases.models import Case
from huimin.payments import actions as pay_actions
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import Program
from huimin.registry.areas import DEMO_COUNTY, load_county
from huimin.registry.models import Area, ParentChild, Person
from huimin.registry.synth_db import populate

DEMO_PASSWORD = "huimin2026"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    area: str
    second_factor: str = ""


def second_factor_note(role: str) -> str:
    """How a demo user of this role gets past the second factor (HUIMIN_TOTP_ROLES)."""
    from django.conf import settings

    if role in settings.HUIMIN_TOTP_ROLES:
        return "动态口令（首次登录扫码绑定）"
    return "无"


def _pick_villages(county: str) -> tuple[Area, Area]:
    """Two villages in different townships, each with the most small children."""
    ranked = (
        Area.objects.filter(level="village", code__startswith=county)
        .annotate(kids=Count("person", filter=Q(person__birth_date__gte=date(2022, 1, 1))))
        .order_by("-kids", "code")
    )
    first = ranked.first()
    if first is None:
        raise RuntimeError("没有村级区划")
    second = ranked.exclude(parent=first.parent).first() or first
    return first, second


def create_users(village_a: Area, village_b: Area, county: Area) -> list[DemoLogin]:
    township = village_a.parent
    assert township is not None
    spec = [
        ("cadre_a", Role.VILLAGE_CADRE, village_a, f"{village_a.name}村级专干"),
        ("cadre_b", Role.VILLAGE_CADRE, village_b, f"{village_b.name}村级专干"),
        ("township", Role.TOWNSHIP_REVIEWER, township, f"{township.name}审核员"),
        ("county", Role.COUNTY_APPROVER, county, f"{county.name}卫健局审批员"),
        ("finance", Role.FINANCE_OFFICER, county, f"{county.name}财务人员"),
        ("auditor", Role.AUDITOR, county, f"{county.name}审计人员"),
        ("admin", Role.ADMIN, county, "系统管理员"),
    ]
    logins = []
    for username, role, area, display in spec:
        user, _ = User.objects.get_or_create(username=username, defaults={"role": role})
        user.role = role
        user.display_name = display
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.areas.set([area])
        logins.append(DemoLogin(username, DEMO_PASSWORD, Role(role).label, area.full_name(),
                                second_factor_note(role)))
    return logins


def sample_cases(village: Area, today: date, limit: int = 12) -> dict[str, int]:
    """Walk some children of the village through the chain, so every page has something."""
    cadre = User.objects.get(username="cadre_a")
    township = User.objects.get(username="township")
    county = User.objects.get(username="county")
    finance = User.objects.get(username="finance")
    program = Program.objects.get(code=CHILDCARE)
    children = list(
        Person.objects.filter(area=village, birth_date__gte=date(2022, 1, 1), death_date=None)
        .exclude(cases__program=program, cases__claim_year=today.year).order_by("id")[:limit]
    )
    made: list[Case] = []
    for child in children:
        link = ParentChild.objects.filter(child=child, parent__bank_accounts__active=True).first()
        if link is None:
            continue
        made.append(case_actions.submit_application(
            cadre, program=program, subject=child, claim_year=today.year, applicant=link.parent,
            bank_account=link.parent.bank_accounts.filter(active=True).first()))
    eligible = [c for c in made if c.eligible]
    for i, case in enumerate(eligible):
        if i % 4 == 3:
            continue  # left waiting for the township
        case_actions.township_review(township, case, approve=True, comment="材料齐全")
        if i % 4 == 2:
            continue  # left waiting for the county
        case_actions.county_confirm(county, case, approve=True, comment="同意")
    with transaction.atomic():
        cycle = pay_actions.build_cycle(finance, program=program, claim_year=today.year,
                                        cut_off=today)
        batch = pay_actions.create_batch(finance, cycle)
        pay_actions.release_batch(county, batch)
        pay_actions.export_batch(finance, batch)
        first_line = batch.lines.order_by("seq").first()
        failed = {first_line.reference: "账户已销户"} if first_line else {}
        pay_actions.import_return(finance, batch, pay_actions.sample_return(batch, failed))
    return {"cases": len(made), "batch_lines": batch.line_count}


def build(persons: int, seed: int, today: date,
          progress: Callable[[int], None] | None = None) -> list[DemoLogin]:
    load_county(DEMO_COUNTY)
    county = Area.objects.get(code=DEMO_COUNTY.ljust(12, "0"))
    if not Person.objects.filter(area__code__startswith=DEMO_COUNTY).exists():
        populate(DEMO_COUNTY, persons, seed=seed, as_of=today, progress=progress)
    village_a, village_b = _pick_villages(DEMO_COUNTY)
    logins = create_users(village_a, village_b, county)
    if not Case.objects.exists():
        sample_cases(village_a, today)
        rural_sample_cases(village_a, today)
    return logins


def rural_sample_cases(village: Area, today: date, limit: int = 8) -> dict[str, int]:
    """奖励扶助 for parents of 60 and over in the village: applications, the village review,
    a posting running from today and one objection waiting to be checked."""
    from huimin.cases.models import Notice

    cadre = User.objects.get(username="cadre_a")
    program = Program.objects.get(code="rural-reward")
    born_by = date(today.year - 60, 12, 31)
    parents = list(
        Person.objects.filter(area=village, hukou_type="rural", death_date=None,
                              birth_date__lte=born_by, birth_date__gte=date(1933, 1, 1),
                              child_links__isnull=False)
        .exclude(cases__program=program, cases__claim_year=today.year)
        .distinct().order_by("id")[:limit])
    made = [case_actions.submit_application(
        cadre, program=program, subject=p, claim_year=today.year,
        bank_account=p.bank_accounts.filter(active=True).order_by("id").first(),
        facts={"policy_status_confirmed": True}) for p in parents]
    approved = [case_actions.decide(cadre, c, "approve", comment="经村民代表评议")
                for c in made if c.eligible]
    notices = 0
    if approved:
        case_actions.publish_notice(cadre, program=program, start_on=today,
                                    objection_info=f"{village.name}办公室，工作日 8:30–17:30")
        notices = Notice.objects.filter(program=program, area=village).count()
        first = Case.objects.get(pk=approved[0].pk)
        case_actions.record_objection(cadre, first, content="对其子女情况有异议，请核实")
    return {"cases": len(made), "approved": len(approved), "notices": notices}
