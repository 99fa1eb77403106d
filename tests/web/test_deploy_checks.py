"""The published development keys refuse to start outside debug; the documented production
settings pass ``check --deploy`` with no issue; the data key can be rotated."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import CommandError, call_command

from huimin.audit.models import AuditEvent
from huimin.lib.secrets import SecretBox
from huimin.registry import crypto
from huimin.registry.models import BankAccount, Person
from tests.conftest import VILLAGE_A, Personas, make_family

#: what the README's production section sets (keys made up for the test)
PRODUCTION = {
    "HUIMIN_SECRET_KEY": secrets.token_urlsafe(50),
    "HUIMIN_DATA_KEY": secrets.token_urlsafe(40),
    "HUIMIN_ALLOWED_HOSTS": "huimin.example.gov.cn",
    "HUIMIN_CSRF_TRUSTED_ORIGINS": "https://huimin.example.gov.cn",
    "HUIMIN_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HUIMIN_")
           and k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}  # set by browser tests
    env.update({"DJANGO_SETTINGS_MODULE": "huimin.settings", "HUIMIN_VAR_DIR": str(tmp_path),
                "PYTHONPATH": os.pathsep.join(sys.path)}, **extra)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, **PRODUCTION), "-m", "huimin.cli", "manage", "check", "--deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr
    assert "WARNINGS" not in done.stderr + done.stdout


def test_production_settings_are_secure(tmp_path: Path) -> None:
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_AGE, "
            "s.SESSION_SAVE_EVERY_REQUEST, s.SECURE_PROXY_SSL_HEADER, "
            "','.join(s.HUIMIN_TOTP_ROLES), s.AXES_FAILURE_LIMIT)")
    done = _run(_env(tmp_path, **PRODUCTION), "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True", "True", "True", "True", "31536000", "1800", "True",
        "('HTTP_X_FORWARDED_PROTO',", "'https')", "county_approver,finance_officer", "5"]
    idle = _run(_env(tmp_path, **PRODUCTION, HUIMIN_SESSION_IDLE_MINUTES="10"), "-c", code)
    assert idle.stdout.split()[5] == "600"


@pytest.mark.parametrize("command", [["-m", "huimin.cli", "manage", "check"],
                                     ["-m", "huimin.cli", "manage", "migrate", "--plan"],
                                     ["-c", "import huimin.wsgi"]],
                         ids=["check", "migrate", "wsgi"])
def test_development_keys_refuse_to_start_outside_debug(tmp_path: Path,
                                                       command: list[str]) -> None:
    done = _run(_env(tmp_path, HUIMIN_ALLOWED_HOSTS="huimin.example.gov.cn"), *command)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "huimin.E001" in out and "huimin.E002" in out, out


def test_one_real_key_is_not_enough(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, HUIMIN_SECRET_KEY=PRODUCTION["HUIMIN_SECRET_KEY"]),
                "-m", "huimin.cli", "manage", "check")
    assert done.returncode != 0
    assert "huimin.E002" in done.stderr and "huimin.E001" not in done.stderr


@pytest.mark.parametrize("allow", [{"HUIMIN_DEV_KEYS": "1"}, {"HUIMIN_DEBUG": "1"}],
                         ids=["dev-keys", "debug"])
def test_development_keys_start_when_said_so(tmp_path: Path, allow: dict[str, str]) -> None:
    done = _run(_env(tmp_path, **allow), "-m", "huimin.cli", "manage", "check")
    assert done.returncode == 0, done.stderr
    assert "huimin.E00" not in done.stdout + done.stderr


# --- key rotation ------------------------------------------------------------------------

@pytest.fixture
def restore_key(settings: Any) -> Any:
    settings.DATA_KEY = settings.DATA_KEY  # restored after the test with the other settings
    crypto.box.cache_clear()
    yield settings
    crypto.box.cache_clear()


def test_rotate_data_key_reseals_and_rehashes(personas: Personas, restore_key: Any,
                                              tmp_path: Path) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, __import__("datetime").date(2024, 1, 2))
    number, account = fam.mother.id_number, fam.account.account_number
    old_box = crypto.box()
    old_sealed = Person.objects.get(pk=fam.mother.pk).id_sealed
    new_key = secrets.token_urlsafe(40)
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key + "\n", encoding="utf-8")

    call_command("rotate_data_key", "--new-key-file", str(key_file), "--actor", "admin_user")

    assert new_key == restore_key.DATA_KEY
    mother = Person.objects.get(pk=fam.mother.pk)
    assert mother.id_sealed != old_sealed
    assert mother.id_number == number  # readable with the new key
    with pytest.raises(InvalidTag):
        old_box.unseal(mother.id_sealed)  # and no longer with the old one
    assert SecretBox(new_key).unseal(mother.id_sealed) == number
    # searchable by the rebuilt keyed hashes
    assert Person.objects.get(id_hash=crypto.id_hash(number)).pk == fam.mother.pk
    found = BankAccount.objects.get(account_hash=crypto.account_hash(account))
    assert found.pk == fam.account.pk and found.account_number == account
    assert Person.objects.filter(id_hash=old_box.keyed_hash("id:" + number)).count() == 0
    event = AuditEvent.objects.get(action="system.rotate_data_key")
    assert event.actor == personas.admin
    assert event.data["persons"] == Person.objects.exclude(id_sealed="").count() >= 3
    assert event.data["bank_accounts"] == 1
    assert new_key not in str(event.data)


def test_rotation_is_all_or_nothing(personas: Personas, restore_key: Any,
                                    tmp_path: Path) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, __import__("datetime").date(2024, 1, 2))
    stray = SecretBox("a key this deployment never had").seal("440000199001011234")
    Person.objects.filter(pk=fam.child.pk).update(id_sealed=stray)  # sealed under another key
    before = dict(Person.objects.values_list("pk", "id_sealed"))
    key_file = tmp_path / "new.key"
    key_file.write_text(secrets.token_urlsafe(40), encoding="utf-8")
    with pytest.raises(InvalidTag):
        call_command("rotate_data_key", "--new-key-file", str(key_file))
    assert dict(Person.objects.values_list("pk", "id_sealed")) == before
    assert not AuditEvent.objects.filter(action="system.rotate_data_key").exists()
    assert Person.objects.get(pk=fam.mother.pk).id_number == fam.mother.id_number


@pytest.mark.django_db
def test_rotation_refuses_weak_or_same_keys(restore_key: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    for key, reason in [(restore_key.DATA_KEY, "相同"), ("short", "过短")]:
        key_file.write_text(key, encoding="utf-8")
        with pytest.raises(CommandError, match=reason):
            call_command("rotate_data_key", "--new-key-file", str(key_file))
    restore_key.DATA_KEY = secrets.token_urlsafe(40)  # a real key: back to the development one
    key_file.write_text("insecure-development-data-key", encoding="utf-8")
    with pytest.raises(CommandError, match="开发密钥"):
        call_command("rotate_data_key", "--new-key-file", str(key_file))


def test_rotation_reseals_case_documents(personas: Personas, restore_key: Any, settings: Any,
                                         tmp_path: Path) -> None:
    """A scan sealed under the old key still opens after rotation, and only with the new key."""
    from huimin.cases import actions as case_actions
    from huimin.cases.models import SEALED_MAGIC, CaseDocument
    from huimin.programs.models import DocumentType
    from tests.web.cases_helpers import PNG, apply_rural, make_rural_couple

    settings.MEDIA_ROOT = tmp_path / "media"
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    kind = DocumentType.objects.get(program__code="rural-reward", code="hukou_register")
    doc = case_actions.add_document(personas.cadre_a, case, doc_type=kind, data=PNG,
                                    filename="户口簿.png")
    path = Path(doc.file.path)
    before = path.read_bytes()
    old_box = crypto.box()
    new_key = secrets.token_urlsafe(40)
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key, encoding="utf-8")

    call_command("rotate_data_key", "--new-key-file", str(key_file))

    after = path.read_bytes()
    assert after != before and after.startswith(SEALED_MAGIC)
    assert not list(path.parent.glob("*.rekey"))
    fresh = CaseDocument.objects.get(pk=doc.pk)
    assert fresh.read() == PNG
    with pytest.raises(InvalidTag):
        old_box.unseal_bytes(after[len(SEALED_MAGIC):], fresh._context())
    event = AuditEvent.objects.get(action="system.rotate_data_key")
    assert event.data["case_documents"] == 1
