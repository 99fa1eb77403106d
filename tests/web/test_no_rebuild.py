"""Nothing the pages and the API show lets a masked identity number be rebuilt (issue 12,
finding 1; workflow.md "Test that nothing a page or response shows lets a masked value be
rebuilt").

For a set of persons this fetches every page and API response that shows a masked number or
a person's dates — the person list, each person's page and household page, the case list and
every case page, letters, notices as HTML and as PDF text, the persons, cases, notices and
batch API, and the batch pages — as a cadre, a county approver and a finance officer. It then
takes the attacker's best case: each person's mask, sex and county (address code) are known,
and so is any date shown anywhere that equals the person's birth date; otherwise only the age
shown is known. It counts the identity numbers that agree with all of that (valid check
character included) and asserts there is more than one; the full number and its 8-digit
birth segment never appear at all.
"""

from __future__ import annotations

import contextlib
import functools
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.lib.idnumber import make
from tests.conftest import PASSWORD, Personas
from tests.web.test_access_matrix import World  # the world fixture, in this test's transaction:
from tests.web.test_access_matrix import own_world as world  # noqa: F401
from tests.web.test_cases_web import pdf_text

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 6, 15)
TOKEN = re.compile(r"(?<![0-9A-Za-z*])[0-9Xx*]{18}(?![0-9A-Za-z*])")
DATES = [re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
         re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"),
         re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")]


def dates_shown(text: str) -> set[date]:
    out: set[date] = set()
    for pattern in DATES:
        for m in pattern.finditer(text):
            with contextlib.suppress(ValueError):
                out.add(date(int(m[1]), int(m[2]), int(m[3])))
    return out


def _age(born: date) -> tuple[int, int]:
    """Age on TODAY as an office shows it: years and months under 3, whole years after."""
    months = max((TODAY.year - born.year) * 12 + TODAY.month - born.month
                 - (TODAY.day < born.day), 0)
    return (months // 12, months % 12) if months < 36 else (months // 12, 0)


def candidates(person: Any, known_dates: set[date]) -> int:
    """Identity numbers agreeing with what was shown of the person: the mask's visible
    characters, the sex (sequence parity), the county, and the birth date if it was shown
    anywhere (else every day with the same age label)."""
    masked = person.id_masked
    visible = [(i, ch) for i, ch in enumerate(masked) if ch != "*"]
    if person.birth_date in known_dates:
        days = [person.birth_date]
    else:
        age = _age(person.birth_date)
        days = [d for d in (person.birth_date + timedelta(days=k) for k in range(-400, 401))
                if _age(d) == age]
    address = person.id_number[:6]  # the attacker's best case: the county is known
    assert make(address, person.birth_date, int(person.id_number[14:17])) == person.id_number
    days.sort(key=lambda d: d != person.birth_date)
    count = 0
    for day in days:  # counted up to a cap: the question is "more than one", and how many
        count += _count_for_day(address, day, person.sex, tuple(visible))
        if count > CAP:
            break
    return count


WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
CAP = 200


@functools.cache
def _count_for_day(address: str, day: date, sex: str,
                   visible: tuple[tuple[int, str], ...]) -> int:
    """How many sequences of this sex give a number with these visible characters (the
    GB 11643 check computed as in huimin.lib.idnumber.make, per sequence digit)."""
    head = f"{address}{day:%Y%m%d}"
    base = sum(int(c) * w for c, w in zip(head, WEIGHTS, strict=False))
    count = 0
    for seq in range(1 if sex == "M" else 0, 1000, 2):
        a, b, c = seq // 100, seq // 10 % 10, seq % 10
        check = CHECK[(base + a * WEIGHTS[14] + b * WEIGHTS[15] + c * WEIGHTS[16]) % 11]
        number = f"{head}{seq:03d}{check}"
        if all(number[i] == ch for i, ch in visible):
            count += 1
    return count


def fetch_everything(client: Client, user: Any, tmp_path: Path) -> list[str]:
    from huimin.accounts.access import batches_for, cases_for, households_for, persons_for
    from huimin.cases.notice_views import notices_for
    from huimin.cases.views import LETTER_STATES

    texts: list[str] = []

    def get(url: str) -> None:
        resp = client.get(url)
        assert resp.status_code in (200, 403, 404 if "letter" in url else 200), url
        if resp.status_code == 200:
            if resp["Content-Type"] == "application/pdf":
                texts.append(pdf_text(resp.content, tmp_path, "page.pdf")[0])
            else:
                texts.append(resp.content.decode())

    page = 1
    while True:
        resp = client.get(reverse("registry:persons"), {"page": page})
        texts.append(resp.content.decode())
        if "下一页" not in texts[-1]:
            break
        page += 1
    for offset in range(0, persons_for(user).count(), 500):
        get(f"/api/persons?limit=500&offset={offset}")
    for p in persons_for(user):
        get(reverse("registry:person", args=[p.pk]))
        get(f"/api/persons/{p.pk}")
        resp = client.post("/api/persons/search", {"id_number": p.id_number},
                           content_type="application/json")
        texts.append(resp.content.decode())
    for h in households_for(user):
        get(reverse("registry:household", args=[h.pk]))
    get(reverse("cases:list"))
    get("/api/cases")
    for c in cases_for(user):
        get(reverse("cases:detail", args=[c.pk]))
        get(f"/api/cases/{c.pk}")
        if c.state in LETTER_STATES:
            get(reverse("cases:letter", args=[c.pk]) + "?format=html")
    get(reverse("notices:list"))
    get("/api/notices")
    for n in notices_for(user):
        get(reverse("notices:detail", args=[n.pk]))
        get(reverse("notices:pdf", args=[n.pk]))
        get(f"/api/notices/{n.pk}")
    get("/api/batches")
    for b in batches_for(user):
        get(reverse("payments:detail", args=[b.pk]))
        get(f"/api/batches/{b.pk}")
    return texts


def test_no_masked_id_can_be_rebuilt(personas: Personas, world: World,  # noqa: F811
                                     tmp_path: Path) -> None:
    from huimin.registry.models import Person

    persons = list(Person.objects.all())
    assert len(persons) >= 20
    for role in ("cadre_a", "county", "finance"):
        user = getattr(personas, role)
        client = Client()
        client.login(username=user.username, password=PASSWORD)
        with time_machine.travel(datetime(2026, 6, 15, 11, 0, tzinfo=SH), tick=False):
            texts = fetch_everything(client, user, tmp_path)
        everything = "\n".join(texts)
        tokens = set(TOKEN.findall(everything))
        assert tokens, "the pages show masked identity numbers"
        for token in tokens:  # at most the first and the last character of any number
            assert token.count("*") >= 16, (role, token)
        known = dates_shown(everything)
        shown = [p for p in persons if p.id_masked in everything]
        assert shown, "the masks of the persons are on the pages"
        for p in persons:
            number = p.id_number
            assert number not in everything and number[6:14] not in everything, (role, p.name)
            assert candidates(p, known) > 1, (role, p.name, p.id_masked, p.birth_date in known)
        if role == "cadre_a":  # the cadre's person pages give the full birth date, and then
            full = [p for p in shown if p.birth_date in known]  # still leave dozens of numbers
            assert full and min(candidates(p, known) for p in full) >= 20
