"""The demo county: real areas of 惠来县, synthetic residents, one user per role, and six weeks
of desk work, so that every page shows what a county office sees.

Six villages in three townships carry most of the population; the other villages of the
county keep a few households each. The history is built through the actions, day by day, as
the office would have worked it: each day's steps run on that day's clock (``_on``), so that
a posting published six weeks ago has ended today and the refusals of the actions (a posting
may not start before today, a review not before its posting has ended) hold as they do in
production. Everything is drawn from the seed and the day the demo is built.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from huimin.accounts.models import Role, User
from huimin.cases import actions as case_actions
from huimin.cases.models import Case, Objection
from huimin.payments import actions as pay_actions
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import Program
from huimin.registry import changes as registry_changes
from huimin.registry.areas import DEMO_COUNTY, load_county
from huimin.registry.models import Area, ParentChild, Person
from huimin.registry.synth import generate, neighbour_codes
from huimin.registry.synth_db import CHUNK, _write_chunk, villages_of

DEMO_PASSWORD = "huimin2026"
RURAL = "rural-reward"
SH = ZoneInfo("Asia/Shanghai")
#: the demo's history begins this many days before the day it is built
HISTORY_DAYS = 42
#: the six busy villages carry about this share of the county's persons
FOCUS_SHARE = 0.5
#: applications per busy village and program (the rest of its people have not applied)
CHILDCARE_PER_VILLAGE = 60
RURAL_PER_VILLAGE = 30


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    area: str
    second_factor: str = ""


@dataclass
class Focus:
    """The busy part of the demo county: three townships, two villages in each."""

    townships: list[Area]
    villages: list[Area]  # a, c in the first township; b, e in the second; f, g in the third

    @property
    def village_a(self) -> Area:
        return self.villages[0]

    @property
    def village_b(self) -> Area:
        return self.villages[2]


def second_factor_note(role: str) -> str:
    """How a demo user of this role gets past the second factor (HUIMIN_TOTP_ROLES)."""
    from django.conf import settings

    if role in settings.HUIMIN_TOTP_ROLES:
        return "动态口令（首次登录扫码绑定）"
    return "无"


def _on(day: date) -> AbstractContextManager[Any]:
    """Run the steps of ``day`` on its clock (from 09:00 that day); today runs on the real
    clock."""
    if day >= timezone.localdate():
        return nullcontext()
    import time_machine

    return time_machine.travel(datetime.combine(day, time(9, 0), tzinfo=SH), tick=True)


def pick_focus(county: str) -> Focus:
    """Three towns (镇) with at least two village committees each, spread over the county's
    list, and the first two village committees of each (by code: the same every time)."""
    towns = []
    for t in Area.objects.filter(level="township", code__startswith=county).order_by("code"):
        kids = list(Area.objects.filter(level="village", parent=t, code__regex=r"[2-3]\d\d$")
                    .order_by("code")[:2])
        if 100 <= int(t.code[6:9]) < 200 and len(kids) == 2:
            towns.append((t, kids))
    if len(towns) < 3:
        raise RuntimeError("演示县须有三个各含两个村委会的镇")
    chosen = [towns[0], towns[len(towns) // 2], towns[-1]]
    return Focus([t for t, _ in chosen], [v for _, kids in chosen for v in kids])


def populate_focused(county: str, persons: int, focus: Focus, *, seed: int, as_of: date,
                     progress: Callable[[int], None] | None = None) -> None:
    """The county's synthetic register, the busy villages drawn more often than the rest."""
    villages = villages_of(county)
    busy = {v.code for v in focus.villages}
    others = len(villages) - len(busy)
    weight = max(1, round(FOCUS_SHARE / (1 - FOCUS_SHARE) * others / len(busy)))
    weighted = [v for v in villages for _ in range(weight if v[0] in busy else 1)]
    people = list(generate(weighted, persons, seed=seed, as_of=as_of,
                           birthplaces=neighbour_codes(county)))
    areas = {a.code: a for a in Area.objects.filter(level="village", code__startswith=county)}
    key_to_pk: dict[int, int] = {}
    stats = {"persons": 0, "households": 0, "links": 0, "accounts": 0}
    for start in range(0, len(people), CHUNK):
        chunk = people[start:start + CHUNK]
        with transaction.atomic():
            _write_chunk(chunk, areas, key_to_pk, stats)
        if progress:
            progress(len(chunk))


def _user(username: str, role: str, area: Area, display: str, hashed: str) -> DemoLogin:
    user, _ = User.objects.get_or_create(username=username, defaults={"role": role})
    user.role = role
    user.display_name = display
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.password = hashed  # one hash of the one demo password (hashing is slow on purpose)
    user.save()
    user.areas.set([area])
    return DemoLogin(username, DEMO_PASSWORD, Role(role).label, area.full_name(),
                     second_factor_note(role))


def create_users(village_a: Area, village_b: Area, county: Area,
                 focus: Focus | None = None) -> list[DemoLogin]:
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
    if focus is not None:
        c, t2, t3 = focus.villages[1], focus.townships[1], focus.townships[2]
        spec += [
            ("cadre_c", Role.VILLAGE_CADRE, c, f"{c.name}村级专干"),
            ("township_b", Role.TOWNSHIP_REVIEWER, t2, f"{t2.name}审核员"),
            ("township_c", Role.TOWNSHIP_REVIEWER, t3, f"{t3.name}审核员"),
        ]
    hashed = make_password(DEMO_PASSWORD)
    return [_user(*row, hashed) for row in spec]


# ----------------------------------------------------------------------------- the history


@dataclass
class Office:
    """The demo's staff, looked up once."""

    county: Any
    finance: Any
    cadre: dict[str, Any]  # village code -> its cadre
    township: dict[str, Any]  # township code -> its reviewer
    programs: dict[str, Program] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Office:
        users = {u.username: u for u in User.objects.prefetch_related("areas")}
        cadre = {a.code: u for u in users.values() if u.role == Role.VILLAGE_CADRE
                 for a in u.areas.all()}
        township = {a.code: u for u in users.values() if u.role == Role.TOWNSHIP_REVIEWER
                    for a in u.areas.all()}
        return cls(users["county"], users["finance"], cadre, township,
                   {p.code: p for p in Program.objects.filter(code__in=[CHILDCARE, RURAL])})

    def intake(self, village: Area) -> Any:
        """Who takes applications in ``village``: its cadre, else its township's reviewer."""
        assert village.parent is not None
        return self.cadre.get(village.code) or self.township[village.parent.code]

    def reviewer(self, case: Case) -> Any:
        return self.township[case.area.code[:9].ljust(12, "0")]


def _children(village: Area, program: Program, year: int, limit: int) -> Iterator[
        tuple[Person, Person, Any]]:
    kids = (Person.objects.filter(area=village, birth_date__gte=date(year - 3, 1, 1),
                                  death_date=None)
            .exclude(cases__program=program, cases__claim_year=year).order_by("id")[:limit])
    for child in kids:
        link = (ParentChild.objects.filter(child=child, parent__bank_accounts__active=True)
                .select_related("parent").order_by("id").first())
        if link is not None:
            yield child, link.parent, link.parent.bank_accounts.filter(active=True).first()


def _elders(village: Area, program: Program, year: int, limit: int) -> list[Person]:
    return list(
        Person.objects.filter(area=village, hukou_type="rural", death_date=None,
                              birth_date__lte=date(year - 60, 12, 31),
                              birth_date__gte=date(1933, 1, 1), child_links__isnull=False,
                              bank_accounts__active=True)
        .exclude(cases__program=program, cases__claim_year=year)
        .distinct().order_by("id")[:limit])


def _statement(batch: Any, on: date) -> bytes:
    """The bank's statement (对账单) of a returned batch: one debit per paid line."""
    from huimin.payments.models import LineStatus
    from huimin.registry.crypto import box

    b = box()
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["交易日期", "流水号", "对方账号", "借方金额", "贷方金额", "摘要"])
    for line in batch.lines.filter(status=LineStatus.PAID).select_related(
            "bank_account").order_by("seq"):
        out.writerow([on.isoformat(), line.reference, b.unseal(line.bank_account.account_sealed),
                      f"{line.amount_fen / 100:.2f}", "", f"代发{batch.program.name}"])
    return buf.getvalue().encode()


def _failures(batch: Any, every: int, returned_every: int = 0) -> tuple[dict[str, str],
                                                                       set[str]]:
    """Every ``every``-th line failed (the bank's reason), every ``returned_every``-th of
    those returned (退汇)."""
    reasons = ["账户已销户", "户名与账号不符", "账户冻结", "卡片挂失"]
    refs = [f"{batch.number}-{seq:06d}"
            for seq in batch.lines.order_by("seq").values_list("seq", flat=True)]
    failed = {r: reasons[i % len(reasons)] for i, r in enumerate(refs[::every])}
    returned = ({r for i, r in enumerate(sorted(failed)) if i % returned_every == 0}
                if returned_every else set())
    return failed, returned


def _correct(office: Office, batch: Any, *, leave: int = 1) -> None:
    """After a phone call, each failed or returned line's account is found sound (or the
    family's card replaced); ``leave`` of them wait for a check."""
    from huimin.payments.models import LineStatus

    lines = list(batch.lines.filter(status__in=[LineStatus.FAILED, LineStatus.RETURNED])
                 .select_related("bank_account").order_by("seq"))
    for line in lines[leave:]:
        pay_actions.correct_line(office.finance, line, bank_account=line.bank_account,
                                 note="已电话核实，账户已解冻可正常入账")


Story = Iterator[int]


def childcare_history(office: Office, focus: Focus, year: int) -> Story:
    """育儿补贴 (township, then county; no posting) in the six busy villages, in two waves,
    two payment cycles and four batches. Each ``yield`` names the day the steps after it
    are done on (days from the start of the history)."""
    program = office.programs[CHILDCARE]
    yield 1
    apps = [(v, c, p, a) for v in focus.villages
            for c, p, a in _children(v, program, year, CHILDCARE_PER_VILLAGE)]
    waves: list[list[Case]] = [[], []]
    first = None
    for wave, when in ((0, 1), (1, 14)):
        if wave:
            yield when
        for i, (village, child, parent, account) in enumerate(apps):
            if i % 2 == wave:
                waves[wave].append(case_actions.submit_application(
                    office.intake(village), program=program, subject=child,
                    claim_year=year, applicant=parent, bank_account=account))
        yield when + 3
        for i, case in enumerate(waves[wave]):
            fate = i % 20
            if fate in (12, 13):
                continue  # waiting for the township
            if not case.eligible or fate == 16:
                case_actions.township_review(
                    office.reviewer(case), case, approve=False,
                    reason_codes=["facts_untrue" if case.eligible else "not_eligible"],
                    comment="经入户核实，申报情况与实际不符" if case.eligible else "")
            elif fate in (14, 15):
                case_actions.decide(office.reviewer(case), case, "return",
                                    comment="请补充出生医学证明复印件")
            else:
                case_actions.township_review(office.reviewer(case), case, approve=True,
                                             comment="材料齐全，情况属实")
        yield when + 5
        for i, case in enumerate(waves[wave]):
            case.refresh_from_db()
            fate = i % 20
            if case.state == "returned" and fate == 15:
                case_actions.resubmit(office.intake(case.area), case,
                                      comment="已补充出生医学证明复印件")
            if case.state != "township_approved" or fate in (10, 11, 19):
                continue  # waiting for the county
            if fate == 17:
                case_actions.county_confirm(office.county, case, approve=False,
                                            reason_codes=["duplicate_benefit"],
                                            comment="已在外县享受同类补贴")
            else:
                case_actions.county_confirm(office.county, case, approve=True, comment="同意")
        if wave == 0:
            yield 7
            for i, case in enumerate(waves[0]):
                case.refresh_from_db()
                if i % 20 == 16 and case.state == "rejected" and i < 40:
                    case_actions.request_review(office.intake(case.area), case,
                                                comment="申请人提交了新的证明材料，申请复核")
            yield 8
            first = pay_actions.build_cycle(office.finance, program=program,
                                            claim_year=year, period=f"{year}-Q3")
            b1 = pay_actions.create_batch(office.finance, first)
            yield 9
            _send(office, b1)
            yield 11
            _return(office, b1, every=12, statement=True)
            yield 12
            _correct(office, b1)
    assert first is not None
    yield 21
    second = pay_actions.build_cycle(office.finance, program=program, claim_year=year,
                                     period=f"{year}-Q4")
    b2 = pay_actions.create_batch(office.finance, first)  # the corrected lines
    b3 = pay_actions.create_batch(office.finance, second)
    yield 22
    _send(office, b2)
    _send(office, b3)
    yield 24
    _return(office, b2, statement=True)
    _return(office, b3, every=15, returned_every=2)
    yield 26
    _correct(office, b3, leave=2)
    yield 30
    _life(office, program, waves[1])
    yield 38
    b5 = pay_actions.create_batch(office.finance, second)
    _send(office, b5)  # exported; the bank has not answered yet


def _send(office: Office, batch: Any) -> None:
    """The county releases the batch, finance exports its bank file."""
    pay_actions.release_batch(office.county, batch)
    pay_actions.export_batch(office.finance, batch)


def _return(office: Office, batch: Any, *, every: int = 0, returned_every: int = 0,
            statement: bool = False) -> None:
    """The bank's return (回盘) and, with ``statement``, its statement (对账单)."""
    failed, returned = _failures(batch, every, returned_every) if every else ({}, set())
    pay_actions.import_return(office.finance, batch,
                              pay_actions.sample_return(batch, failed, returned))
    if statement:
        pay_actions.import_statement(office.finance, batch,
                                     _statement(batch, timezone.localdate()))


def _life(office: Office, program: Program, late: list[Case]) -> None:
    """Changes of life: two paid families suspended while checked, one paid case stopped and
    its payment recovered in part; cases the county approved after the second cycle was
    frozen, one of them stopped before it was paid."""
    from huimin.payments.actions import recoveries
    from huimin.payments.models import LineStatus, PaymentLine

    today = timezone.localdate()
    paid = list(Case.objects.filter(program=program, state="paid").order_by("-id")[:3])
    for case in paid[:2]:
        case_actions.suspend_case(office.county, case, from_date=today,
                                  reason="群众反映已随父母迁居外省，待核实")
    stopped = case_actions.stop_case(office.county, paid[2], stopped_on=today,
                                     reason="经核实虚报出生信息，停发")
    line = PaymentLine.objects.get(case=stopped, status=LineStatus.PAID)
    recovery = recoveries.mark_overpaid(office.finance, line, reason="虚报冒领，全额追回")
    recoveries.record_repayment(office.finance, recovery, amount_fen=line.amount_fen // 2,
                                on_date=today, receipt=f"{today:%Y%m%d}00417",
                                note="第一期退缴")
    approved = []
    for i, case in enumerate(late):
        case.refresh_from_db()
        if i % 20 == 19 and case.state == "township_approved":
            approved.append(case_actions.county_confirm(office.county, case, approve=True,
                                                        comment="同意"))
    if approved:
        case_actions.stop_case(office.county, approved[0], stopped_on=today,
                               reason="户籍已迁出本县，停发")


def rural_history(office: Office, focus: Focus, year: int) -> Story:
    """奖励扶助 (village + posting, township + posting, county + posting) in the villages
    that have a cadre: postings that ended weeks ago, an objection dismissed and one upheld,
    cases waiting at each level, and a payment batch waiting for the county's release."""
    program = office.programs[RURAL]
    villages = [v for v in focus.villages if v.code in office.cadre]
    info = "{}村委会办公室，工作日 8:30–17:30，电话 0663-6612345"
    by_village: dict[str, list[Case]] = {}
    yield 2
    today = timezone.localdate()
    for v in villages:
        cadre = office.cadre[v.code]
        made = [case_actions.submit_application(
            cadre, program=program, subject=p, claim_year=year,
            bank_account=p.bank_accounts.filter(active=True).order_by("id").first(),
            facts={"policy_status_confirmed": True})
            for p in _elders(v, program, year, RURAL_PER_VILLAGE)]
        by_village[v.code] = made
        for i, case in enumerate(made):
            if i % 10 == 9:
                continue  # still being checked by the village
            if not case.eligible:
                case_actions.decide(cadre, case, "reject", reason_codes=["not_eligible"])
            else:
                case_actions.decide(cadre, case, "approve", comment="经村民代表评议")
        case_actions.publish_notice(cadre, program=program, start_on=today,
                                    objection_info=info.format(v.name))
    a = focus.village_a.code
    objections: list[Objection] = []
    yield 4
    posted = [c for c in by_village[a] if c.eligible][:2]
    for case, text in zip(posted, ("反映其子女已在外地再婚生育", "反映其户籍为城镇户口"),
                          strict=False):
        objections.append(case_actions.record_objection(
            office.cadre[a], case, content=text, objector="本村村民", contact="138****5678"))
    yield 6
    for obj, upheld in zip(objections, (False, True), strict=False):
        case_actions.resolve_objection(
            office.cadre[a], obj, upheld=upheld,
            finding="经派出所核实，其户籍于 2010 年转为城镇户口，异议成立" if upheld
            else "经入户核实，子女情况属实，异议不成立")
    yield 10  # the village postings have ended: the townships review
    for v in villages:
        for i, case in enumerate(by_village[v.code]):
            case.refresh_from_db()
            if case.state == "village_approved" and i % 3 != 2:
                case_actions.decide(office.reviewer(case), case, "approve",
                                    comment="经乡镇复核，情况属实")
    for t in {v.parent.code: v.parent for v in villages if v.parent is not None}.values():
        reviewer = office.township[t.code]
        if case_actions.posting_candidates(reviewer, program, "township").exists():
            case_actions.publish_notice(reviewer, program=program,
                                        start_on=timezone.localdate(),
                                        objection_info=f"{t.name}人民政府计生办，"
                                                       "电话 0663-6698765")
    yield 18
    for v in villages:
        for i, case in enumerate(by_village[v.code]):
            case.refresh_from_db()
            if case.state == "township_approved" and i % 4 != 3:
                case_actions.decide(office.county, case, "approve", comment="同意")
    case_actions.publish_notice(office.county, program=program, start_on=timezone.localdate(),
                                objection_info="惠来县卫生健康局，电话 0663-6623456")
    yield 36
    cycle = pay_actions.build_cycle(office.finance, program=program, claim_year=year,
                                    period=str(year))
    pay_actions.create_batch(office.finance, cycle)  # waiting for the county's release


def run_stories(start: date, stories: list[Story]) -> None:
    """Run the stories' steps in the order of their days, each on its day's clock."""
    import heapq

    queue: list[tuple[int, int, Story]] = []
    for n, story in enumerate(stories):
        heapq.heappush(queue, (next(story), n, story))
    while queue:
        day, n, story = heapq.heappop(queue)
        with _on(start + timedelta(days=day)):
            following = next(story, None)
        if following is not None:
            assert following >= day, "a story's days only go forward"
            heapq.heappush(queue, (following, n, story))


def pending_register_work(office: Office, focus: Focus, today: date) -> None:
    """Change requests the township has not confirmed yet, and a death feed whose proposed
    effects wait for the county."""
    from huimin.verification import ingest

    a = focus.village_a
    cadre = office.cadre[a.code]
    elders = list(Person.objects.filter(area=a, death_date=None,
                                        birth_date__lte=date(1960, 1, 1)).order_by("-id")[:3])
    if len(elders) == 3:
        registry_changes.submit_change(
            cadre, kind="death", person=elders[0], reason="村委会报告，家属已办理丧葬",
            values={"death_date": (today - timedelta(days=5)).isoformat(),
                    "source": "惠来县殡仪馆"})
        registry_changes.submit_change(
            cadre, kind="move", person=elders[1], reason="随子女迁居",
            values={"to_code": focus.villages[1].code,
                    "moved_on": (today - timedelta(days=3)).isoformat()})
    waiting = list(Case.objects.filter(program__code=RURAL, area=a,
                                       state__in=["village_approved", "township_approved"])
                   .select_related("subject").order_by("id")[:2])
    rows = [[f"MZ{today:%Y%m%d}{i:03d}", c.subject.id_number, c.subject.name,
             (today - timedelta(days=8 + i)).isoformat(), "惠来县民政局", f"SW{i:06d}"]
            for i, c in enumerate(waiting, start=1)]
    rows.append([f"MZ{today:%Y%m%d}099", "44522419800101001X", "查无此人",
                 (today - timedelta(days=2)).isoformat(), "惠来县民政局", "SW000099"])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [["event_id", "id_number", "name", "death_date", "source_org", "certificate_no"],
         *rows])
    ingest.ingest_file(office.county, buf.getvalue().encode(), "民政死亡数据.csv",
                       kind="death", via="upload")


def history(focus: Focus, today: date) -> None:
    start = today - timedelta(days=HISTORY_DAYS)
    year = start.year
    office = Office.load()
    run_stories(start, [childcare_history(office, focus, year),
                        rural_history(office, focus, year)])
    with _on(today - timedelta(days=1)):
        pending_register_work(office, focus, today - timedelta(days=1))
    rural_sample_cases(focus.village_a, today)


def build(persons: int, seed: int, today: date,
          progress: Callable[[int], None] | None = None) -> list[DemoLogin]:
    load_county(DEMO_COUNTY)
    county = Area.objects.get(code=DEMO_COUNTY.ljust(12, "0"))
    focus = pick_focus(DEMO_COUNTY)
    start = today - timedelta(days=HISTORY_DAYS)
    if not Person.objects.filter(area__code__startswith=DEMO_COUNTY).exists():
        with _on(start):
            populate_focused(DEMO_COUNTY, persons, focus, seed=seed, as_of=today,
                             progress=progress)
    logins = create_users(focus.village_a, focus.village_b, county, focus)
    if not Case.objects.exists():
        history(focus, today)
    return logins


def counts() -> dict[str, int]:
    """Cases per state (for the command's summary and the tests)."""
    return dict(Case.objects.values_list("state").annotate(n=Count("id")).order_by())


def rural_sample_cases(village: Area, today: date, limit: int = 8) -> dict[str, int]:
    """奖励扶助 for parents of 60 and over in the village: applications, the village review,
    a posting running from today and one objection waiting to be checked."""
    from huimin.cases.models import Notice

    cadre = User.objects.get(username="cadre_a")
    program = Program.objects.get(code=RURAL)
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
        notices = Notice.objects.filter(program=program, area=village,
                                        start_on=today).count()
        first = Case.objects.get(pk=approved[0].pk)
        case_actions.record_objection(cadre, first, content="对其子女情况有异议，请核实")
    return {"cases": len(made), "approved": len(approved), "notices": notices}


__all__ = ["DEMO_PASSWORD", "DemoLogin", "Focus", "build", "counts", "create_users",
           "pick_focus", "rural_sample_cases", "second_factor_note"]
