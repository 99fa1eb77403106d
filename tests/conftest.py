"""Shared fixtures: the demo county's real areas and the personas of style.md item 6.

Data is built through actions, as users would build it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

VILLAGE_A = "445224100201"  # 惠城镇四香村委会
VILLAGE_B = "445224110202"  # 隆江镇竹湖村委会
TOWNSHIP_A = "445224100000"  # 惠城镇
COUNTY = "445224000000"  # 惠来县
PASSWORD = "test-pass-123"


def pytest_configure(config: Any) -> None:
    """Tests run on the development keys over plain HTTP (the test client and the live
    server): say so explicitly, as bin/demo does, and for the subprocesses tests start."""
    from django.conf import settings

    os.environ["HUIMIN_DEV_KEYS"] = "1"
    os.environ["HUIMIN_HTTPS"] = "0"
    settings.DEV_KEYS = True
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0


def artifacts_dir() -> Path:
    path = Path(os.environ.get("HUIMIN_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    from huimin.registry.areas import load_county

    with django_db_blocker.unblock():
        load_county("445224")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _logins_without_lockout_or_second_factor(settings: Any) -> None:
    """Most tests log in with ``client.login`` (no request, which django-axes needs) and as
    county approvers and finance officers without a TOTP device: lockout and the second
    factor are off unless a test asks for them with ``axes_on`` / ``totp_on``. Tests travel
    in time between logging in and the request, so the 30-minute idle timeout is lengthened
    here; the idle-timeout tests set it back."""
    settings.AXES_ENABLED = False
    settings.HUIMIN_TOTP_ROLES = []
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600


@pytest.fixture
def axes_on(settings: Any) -> None:
    """django-axes counting failures and locking out, as in production."""
    settings.AXES_ENABLED = True


@pytest.fixture
def totp_on(settings: Any) -> list[str]:
    """The second factor required for the production default roles."""
    settings.HUIMIN_TOTP_ROLES = ["county_approver", "finance_officer"]
    return list(settings.HUIMIN_TOTP_ROLES)


@dataclass
class Personas:
    cadre_a: Any
    cadre_b: Any
    township: Any
    township_b: Any
    county: Any
    finance: Any
    auditor: Any
    admin: Any


def make_user(username: str, role: str, area_code: str) -> Any:
    from huimin.accounts.models import User
    from huimin.registry.models import Area

    user = User.objects.create_user(username=username, password=PASSWORD, role=role,
                                    display_name=username)
    user.areas.set([Area.objects.get(code=area_code)])
    return user


@pytest.fixture
def personas(db: Any) -> Personas:
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    if not Area.objects.filter(code=COUNTY).exists():  # flushed by a transactional test
        load_county("445224")
    return Personas(
        cadre_a=make_user("cadre_a", "village_cadre", VILLAGE_A),
        cadre_b=make_user("cadre_b", "village_cadre", VILLAGE_B),
        township=make_user("township", "township_reviewer", TOWNSHIP_A),
        township_b=make_user("township_b", "township_reviewer", "445224110000"),
        county=make_user("county", "county_approver", COUNTY),
        finance=make_user("finance", "finance_officer", COUNTY),
        auditor=make_user("auditor", "auditor", COUNTY),
        admin=make_user("admin_user", "admin", COUNTY),
    )


ID_SEQ = iter(range(1, 10**6))


def new_id(birth: date, sex: str, address: str = "445224") -> str:
    from huimin.lib.idnumber import make

    while True:
        seq = next(ID_SEQ) % 1000
        if (seq % 2 == 1) == (sex == "M"):
            return make(address, birth, seq)


@dataclass
class Family:
    father: Any
    mother: Any
    child: Any
    account: Any


def make_family(actor: Any, village: str, child_birth: date, *, surname: str = "林") -> Family:
    from huimin.registry import actions
    from huimin.registry.models import Area, Household

    area = Area.objects.get(code=village)
    hh = Household.objects.create(number=f"{village}-{next(ID_SEQ):05d}", area=area,
                                  hukou_type="rural")

    def person(name: str, sex: str, born: date) -> Any:
        return actions.create_person(actor, name=name, id_number=new_id(born, sex), sex=sex,
                                     birth_date=born, area=area, hukou_type="rural",
                                     household=hh)

    father = person(surname + "建国", "M", date(1990, 3, 4))
    mother = person("陈秀英", "F", date(1992, 7, 8))
    child = person(surname + "小宝", "F", child_birth)
    actions.link_parent(father, child, "father")
    actions.link_parent(mother, child, "mother")
    account = actions.add_bank_account(actor, mother, bank_name="中国农业银行惠来县支行",
                                       account="6228480012345678901")
    return Family(father, mother, child, account)


@pytest.fixture
def family_a(personas: Personas) -> Family:
    return make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))


@pytest.fixture
def family_b(personas: Personas) -> Family:
    return make_family(personas.cadre_b, VILLAGE_B, date(2024, 5, 1), surname="黄")
