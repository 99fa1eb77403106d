"""Case intake through the actions at county scale: applications per second.

    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/<db> HUIMIN_DEV_KEYS=1 \\
        python bench/intake.py --persons 1000000 --n 3000

An empty database is first filled by ``bench/county_register.py`` (``--persons`` persons,
no cases; untimed); a database that holds persons is used as it is. Then ``--n`` 育儿补贴
applications are made for children under three of the township reviewer's township, each
through ``cases.actions.submit_application`` in its own transaction — the rules engine
evaluates the entitlement, the case, its review chain and its audit event are written — as
the intake form does; then each is approved at the township through
``cases.actions.township_review`` (paper documents checked at the desk, so the
override reason is given instead of scans). Reported: applications per second, the per-call p50 and
p95, the same for the review, and the load average beside them (other work may share the
cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _quantile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", interactive=False, verbosity=0)
    from county_register import build_register

    from huimin.accounts.models import User
    from huimin.cases import actions
    from huimin.cases.models import Case
    from huimin.programs.models import Program
    from huimin.registry.models import ParentChild, Person

    if not Person.objects.exists():
        t0 = time.perf_counter()
        stats = build_register(args.persons, cases=0)
        print(f"register built in {time.perf_counter() - t0:.1f} s: {stats}", flush=True)
    township = User.objects.get(username="township")
    prefix = township.areas.order_by("code").values_list("code", flat=True)[0][:9]
    today = timezone.localdate()
    program = Program.objects.get(code="childcare-subsidy")
    year = today.year
    taken = Case.objects.filter(program=program, claim_year=year).values("subject_id")
    children = list(Person.objects.filter(
        area__code__startswith=prefix, birth_date__gt=today.replace(year=today.year - 3),
        death_date=None, moved_out_on=None, merged_into=None).exclude(pk__in=taken)
        .select_related("area").order_by("pk")[:args.n])
    mothers = {link.child_id: link.parent for link in ParentChild.objects.filter(
        child__in=children, relation="mother").select_related("parent__area")}
    work = [(c, mothers[c.pk]) for c in children if c.pk in mothers]
    if not work:
        raise SystemExit("没有可申请的儿童：请用更大的登记册或新的数据库")
    register = Person.objects.count()
    load_before = os.getloadavg()[0]
    made, calls = [], []
    t0 = time.perf_counter()
    for child, mother in work:
        s = time.perf_counter()
        made.append(actions.submit_application(
            township, program=program, subject=child, claim_year=year, applicant=mother,
            bank_account=mother.bank_accounts.filter(active=True).order_by("id").first()))
        calls.append(time.perf_counter() - s)
    intake_s = time.perf_counter() - t0
    reviews = []
    t1 = time.perf_counter()
    for case in made:
        s = time.perf_counter()
        actions.township_review(township, case, approve=True,
                                override_reason="纸质材料已在乡镇核验")
        reviews.append(time.perf_counter() - s)
    review_s = time.perf_counter() - t1
    print(json.dumps({
        "register_persons": register, "cases_in_table": Case.objects.count(),
        "applications": len(made), "intake_seconds": round(intake_s, 2),
        "intake_per_second": round(len(made) / intake_s, 1),
        "intake_p50_ms": round(statistics.median(calls) * 1000, 1),
        "intake_p95_ms": round(_quantile(calls, 0.95) * 1000, 1),
        "review_per_second": round(len(made) / review_s, 1),
        "review_p50_ms": round(statistics.median(reviews) * 1000, 1),
        "review_p95_ms": round(_quantile(reviews, 0.95) * 1000, 1),
        "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
