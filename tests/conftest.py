"""Shared fixtures: the demo county's real areas and the personas of style.md item 6.

Data is built through actions, as users would build it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.database import DirectoryBasedExampleDatabase

VILLAGE_A = "445224100201"  # 惠城镇四香村委会
VILLAGE_B = "445224110202"  # 隆江镇竹湖村委会
TOWNSHIP_A = "445224100000"  # 惠城镇
COUNTY = "445224000000"  # 惠来县
COUNTY_2 = "445222000000"  # 揭西县, a second county of the same prefecture
TOWNSHIP_2 = "445222102000"  # 揭西县龙潭镇
VILLAGE_C = "445222102201"  # 揭西县龙潭镇菜仔园村委会
PASSWORD = "test-pass-123"


ON_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent

# Hypothesis: in CI the same examples every run (a failure there is reproducible, not luck);
# locally random, with the examples that once failed kept in .hypothesis/ and tried first.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile(
    "local", database=DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples")))
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                                "ci" if ON_CI else "local"))

# A test skipped in CI fails the run unless tests/allowed_skips.txt lists it with the reason.
ALLOWED_SKIPS = Path(os.environ.get("HUIMIN_ALLOWED_SKIPS",
                                    Path(__file__).with_name("allowed_skips.txt")))
_unlisted_skips: list[str] = []


def allowed_skips(path: Path = ALLOWED_SKIPS) -> list[tuple[str, str, str]]:
    """(node id pattern, database or "any", reason) from the allow-list; a line without a
    reason is an error."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3 or not all(parts) or parts[1] not in ("any", "sqlite",
                                                                  "postgresql"):
            raise pytest.UsageError(f"{path.name} 第 {n} 行：应为「测试编号模式 | any/sqlite/"
                                    f"postgresql | 原因」，实为 {line!r}")
        out.append((parts[0], parts[1], parts[2]))
    return out


def _database() -> str:
    return "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"


def skip_is_allowed(nodeid: str, rules: list[tuple[str, str, str]], database: str) -> bool:
    return any(fnmatchcase(nodeid, pattern) and where in ("any", database)
               for pattern, where, _ in rules)


_rules: list[tuple[str, str, str]] = []
# The gate judges where the reports end up: in a plain run this process, under pytest-xdist the
# controller (workers send it every test report and every skipped collection report).
_gate = {"here": True}


def pytest_configure(config: Any) -> None:
    """Tests run on the development keys over plain HTTP (the test client and the live
    server): say so explicitly, as bin/demo does, and for the subprocesses tests start."""
    from django.conf import settings

    _rules[:] = allowed_skips()  # a malformed list stops the run before any test
    _gate["here"] = not hasattr(config, "workerinput")
    os.environ["HUIMIN_DEV_KEYS"] = "1"
    os.environ["HUIMIN_HTTPS"] = "0"
    settings.DEV_KEYS = True
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    _sqlite_test_database_in_a_file(settings.DATABASES["default"])


def _sqlite_test_database_in_a_file(db: dict[str, Any]) -> None:
    """SQLite's test database is a file (in memory-backed /dev/shm where there is one), as in
    production, not Django's shared in-memory database: that one makes the live server's
    thread use the test thread's very connection, so a request still running when a browser
    test ends (a page's poll, a late fetch) interleaves its transaction with the next test's
    set-up and leaves the connection broken for every later test of the worker. pytest-django
    appends each xdist worker's suffix to the name; Django deletes the file afterwards."""
    if db["ENGINE"] != "django.db.backends.sqlite3" or db.get("TEST", {}).get("NAME"):
        return
    import atexit
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    where = tempfile.mkdtemp(prefix="huimin-test-",
                             dir=str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None)
    atexit.register(shutil.rmtree, where, True)
    db.setdefault("TEST", {})["NAME"] = str(Path(where) / "test.sqlite3")


def _judge_skip(report: Any) -> None:
    if not (ON_CI and _gate["here"] and report.skipped) or hasattr(report, "wasxfail"):
        return
    if (not skip_is_allowed(report.nodeid, _rules, _database())
            and report.nodeid not in _unlisted_skips):
        _unlisted_skips.append(report.nodeid)


def pytest_runtest_logreport(report: Any) -> None:
    _judge_skip(report)


def pytest_collectreport(report: Any) -> None:
    """A module skipped as a whole (``pytest.skip(allow_module_level=True)``, a failed
    ``importorskip``) is a collection report, not a test report: it counts too."""
    _judge_skip(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _unlisted_skips:
        terminalreporter.section("skipped in CI without being listed", red=True)
        for nodeid in _unlisted_skips:
            terminalreporter.line(nodeid)
        terminalreporter.line(f"list them with the reason in {ALLOWED_SKIPS} or make them run")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    # a run whose only module was skipped collects no test (exit 5): that fails as well
    if _unlisted_skips and exitstatus in (pytest.ExitCode.OK,
                                          pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def artifacts_dir() -> Path:
    path = Path(os.environ.get("HUIMIN_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    from huimin.registry.areas import load_county

    with django_db_blocker.unblock():
        load_county("445224")
        load_county(COUNTY_2[:6])


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login_settings() -> dict[str, Any]:
    return {"AXES_ENABLED": False, "HUIMIN_TOTP_ROLES": [], "SESSION_COOKIE_AGE": 14 * 24 * 3600}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = list(FAST_HASHERS)


@pytest.fixture(autouse=True)
def _logins_without_lockout_or_second_factor(settings: Any) -> None:
    """Most tests log in with ``client.login`` (no request, which django-axes needs) and as
    county approvers and finance officers without a TOTP device: lockout and the second
    factor are off unless a test asks for them with ``axes_on`` / ``totp_on``. Tests travel
    in time between logging in and the request, so the 30-minute idle timeout is lengthened
    here; the idle-timeout tests set it back."""
    for name, value in login_settings().items():
        setattr(settings, name, value)


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
    # outsiders to 惠来县: a village cadre, a township reviewer, a county approver, a finance
    # officer and an auditor of 揭西县
    cadre_c: Any = None
    township_c: Any = None
    county_b: Any = None
    finance_b: Any = None
    auditor_b: Any = None


def make_user(username: str, role: str, area_code: str) -> Any:
    from huimin.accounts.models import User
    from huimin.registry.models import Area

    user = User.objects.create_user(username=username, password=PASSWORD, role=role,
                                    display_name=username)
    user.areas.set([Area.objects.get(code=area_code)])
    return user


def make_personas() -> Personas:
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    if not Area.objects.filter(code=COUNTY).exists():  # flushed by a transactional test
        load_county("445224")
    if not Area.objects.filter(code=COUNTY_2).exists():
        load_county(COUNTY_2[:6])
    return Personas(
        cadre_a=make_user("cadre_a", "village_cadre", VILLAGE_A),
        cadre_b=make_user("cadre_b", "village_cadre", VILLAGE_B),
        township=make_user("township", "township_reviewer", TOWNSHIP_A),
        township_b=make_user("township_b", "township_reviewer", "445224110000"),
        county=make_user("county", "county_approver", COUNTY),
        finance=make_user("finance", "finance_officer", COUNTY),
        auditor=make_user("auditor", "auditor", COUNTY),
        admin=make_user("admin_user", "admin", COUNTY),
        cadre_c=make_user("cadre_c", "village_cadre", VILLAGE_C),
        township_c=make_user("township_c", "township_reviewer", TOWNSHIP_2),
        county_b=make_user("county_b", "county_approver", COUNTY_2),
        finance_b=make_user("finance_b", "finance_officer", COUNTY_2),
        auditor_b=make_user("auditor_b", "auditor", COUNTY_2),
    )


@pytest.fixture
def personas(db: Any) -> Personas:
    return make_personas()


@pytest.fixture(scope="module")
def module_transaction(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Data that a module's tests share, built once and rolled back after the module, as
    Django's ``TestCase.setUpTestData`` does: every test still runs in its own savepoint
    inside this transaction, so each starts from exactly the data the module built, whatever
    the tests before it did. Build the data inside ``django_db_blocker.unblock()`` and hand each
    test copies of the model instances (``copy.deepcopy``), so that nothing a test changes in
    memory reaches the next one. Only for tests that do not commit (``django_db`` without
    ``transaction=True``): pytest tears the transaction down whenever the next test is in
    another module, so tests of other modules never run inside it. The settings are those
    the autouse fixtures above give each test (cheap hashes for the users made here)."""
    from django.db import transaction
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=FAST_HASHERS, **login_settings()):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer._from_testcase = True  # type: ignore[attr-defined]  # as TestCase marks its own
            outer.__enter__()
        try:
            yield
        finally:
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)


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


@pytest.fixture(autouse=True)
def _no_duplicate_scoring_on_each_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring each new record against the register after its commit (identity.hooks) costs
    a Splink run; tests that commit many records one by one would pay it each time. The
    tests of the hook turn it back on (``HUIMIN_DUPLICATES_ON_CHANGE=1``)."""
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "0")


@pytest.fixture(autouse=True, scope="session")
def _approvals_without_scans() -> Iterator[None]:
    """Most tests approve cases without uploading the scans of the program's checklist (some
    in worlds built once per module): the required-documents check (``CASE_REQUIRED_DOCUMENTS``,
    on in production) is off for the session unless a test asks for it with
    ``required_documents``."""
    from django.test import override_settings

    with override_settings(CASE_REQUIRED_DOCUMENTS=False):
        yield


@pytest.fixture
def required_documents(settings: Any) -> None:
    """Approvals check the required documents (必交材料), as in production."""
    settings.CASE_REQUIRED_DOCUMENTS = True
