"""The adjudication queue: who sees which pair, batch decisions (all or none), merges that
lose nothing, pairs not proposed again, flags cleared when data changes, duplicate claims."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cli import app
from huimin.errors import ActionError, Conflict
from huimin.identity import actions, runs
from huimin.identity.match import MatchInputError
from huimin.identity.models import CandidatePair, DuplicateClaim, PairStatus, PersonMerge
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from huimin.registry.models import Area
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Family, Personas
from tests.web.identity_helpers import duplicate_of, queued_pair

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)  # type: ignore[attr-defined]
    return c


def _case(personas: Personas, fam: Family, subject: object) -> object:
    program = Program.objects.get(code="childcare-subsidy")
    return case_actions.submit_application(personas.cadre_a, program=program, subject=subject,
                                           claim_year=2026, applicant=fam.mother,
                                           bank_account=fam.account)


def test_the_county_run_finds_a_duplicate_entered_twice(personas: Personas,
                                                        family_a: Family) -> None:
    dup = duplicate_of(personas.cadre_a, family_a.child, name="林晓宝")  # homophone 小/晓
    result = runs.run_county(personas.county, threshold=0.5)
    assert result.new >= 1
    pair = CandidatePair.objects.get(person_a=family_a.child, person_b=dup)
    levels = {c["comparison"]: c["level"] for c in pair.comparisons}
    assert levels == {"id": "two_valid", "name": "homophone", "birth": "exact", "sex": "exact",
                      "area": "village"}
    assert pair.match_probability >= 0.5 and pair.status == PairStatus.OPEN
    assert AuditEvent.objects.filter(action="identity.pair_found", object_id=str(pair.pk))
    again = runs.run_county(personas.county, threshold=0.5)
    assert again.new == 0 and again.rescored >= 1


def test_pages_work_for_reviewers_and_hide_pairs_outside_their_area(
        personas: Personas, family_a: Family, family_b: Family) -> None:
    inside = queued_pair(personas.county, family_a.child,
                         duplicate_of(personas.cadre_a, family_a.child))
    across = queued_pair(personas.county, family_a.father,
                         duplicate_of(personas.cadre_b, family_a.father,
                                      area=Area.objects.get(code=VILLAGE_B)))
    township, county = _client(personas.township), _client(personas.county)
    page = township.get(reverse("identity:queue"))
    assert page.status_code == 200
    assert inside.number in page.content.decode() and across.number not in page.content.decode()
    assert across.number in county.get(reverse("identity:queue")).content.decode()
    detail = township.get(reverse("identity:pair", args=[inside.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "dup-differs" in html and inside.person_a.id_masked in html
    assert inside.person_a.id_number not in html  # masked only
    assert AuditEvent.objects.filter(action="person.view", person_id=inside.person_a_id,
                                     data__via="duplicate_pair").exists()
    # a pair half outside the township: 404 for it, as for another township and county
    assert township.get(reverse("identity:pair", args=[across.pk])).status_code == 404
    assert _client(personas.township_b).get(
        reverse("identity:pair", args=[inside.pk])).status_code == 404
    assert _client(personas.county_b).get(
        reverse("identity:pair", args=[inside.pk])).status_code == 404
    assert county.get(reverse("identity:pair", args=[across.pk])).status_code == 200
    # wrong role: 403, and nothing decided
    for user in (personas.cadre_a, personas.finance, personas.auditor):
        c = _client(user)
        assert c.get(reverse("identity:queue")).status_code == 403
        assert c.get(reverse("identity:pair", args=[inside.pk])).status_code == 403
        assert c.post(reverse("identity:decide"), {
            "pair": inside.pk, f"decision_{inside.pk}": "different"}).status_code == 403
    inside.refresh_from_db()
    assert inside.status == PairStatus.OPEN


def test_same_person_merges_cases_accounts_and_links_into_the_kept_record(
        personas: Personas, family_a: Family) -> None:
    dup = duplicate_of(personas.cadre_a, family_a.child)
    registry_actions.link_parent(family_a.mother, dup, "mother")
    case = _case(personas, family_a, dup)
    pair = queued_pair(personas.county, family_a.child, dup)
    third = queued_pair(personas.county, dup, duplicate_of(personas.cadre_a, family_a.child))
    res = _client(personas.township).post(reverse("identity:decide"), {
        "pair": pair.pk, f"decision_{pair.pk}": "same", f"keep_{pair.pk}": "a",
        f"reason_{pair.pk}": "户口簿核对为同一人"})
    assert res.status_code == 302
    pair.refresh_from_db()
    case.refresh_from_db()  # type: ignore[attr-defined]
    assert pair.status == PairStatus.SAME and pair.decided_by == personas.township
    assert case.subject_id == family_a.child.pk  # type: ignore[attr-defined]
    merge = PersonMerge.objects.get(drop=dup)
    assert merge.keep == family_a.child and merge.moved["cases"] == [case.pk]  # type: ignore[attr-defined]
    # the mother's link was already on the kept record: removed, kept in the merge record
    assert dup.parent_links.count() == 0
    assert [r["parent"] for r in merge.moved["links_already_on_kept"]] == [family_a.mother.pk]
    assert AuditEvent.objects.filter(action="person.merge", person_id=dup.pk).exists()
    assert AuditEvent.objects.filter(action="identity.pair_decided", object_id=str(pair.pk),
                                     data__decision="same").exists()
    # its other pending pairs are cleared; once merged, it cannot be merged again
    third.refresh_from_db()
    assert third.status == PairStatus.CLEARED
    with pytest.raises(Conflict, match="已于此前并入"):
        registry_actions.merge_persons(personas.county, family_a.father, dup, reason="x")


def test_a_batch_is_applied_all_together_or_not_at_all(personas: Personas,
                                                       family_a: Family) -> None:
    one = queued_pair(personas.county, family_a.child,
                      duplicate_of(personas.cadre_a, family_a.child))
    two = queued_pair(personas.county, family_a.father,
                      duplicate_of(personas.cadre_a, family_a.father))
    before = AuditEvent.objects.count()
    with pytest.raises(ActionError, match=f"{two.number}：请填写理由"):
        actions.decide(personas.county, [
            actions.Decision(one.pk, "different", reason="双胞胎"),
            actions.Decision(two.pk, "same", reason="")])
    one.refresh_from_db()
    assert one.status == PairStatus.OPEN and AuditEvent.objects.count() == before
    # the web form says so and saves nothing
    res = _client(personas.county).post(reverse("identity:decide"), {
        "pair": [one.pk, two.pk], f"decision_{one.pk}": "different",
        f"decision_{two.pk}": "same"}, follow=True)
    assert "未保存任何裁决" in res.content.decode()
    assert not CandidatePair.objects.exclude(status=PairStatus.OPEN).exists()
    batch = actions.decide(personas.county, [
        actions.Decision(one.pk, "different", reason="双胞胎"),
        actions.Decision(two.pk, "field_check", reason="请村里核实")])
    assert set(batch.pairs.values_list("status", flat=True)) == {"different", "field_check"}


def test_different_people_are_not_proposed_again_unless_their_data_changes(
        personas: Personas, family_a: Family) -> None:
    dup = duplicate_of(personas.cadre_a, family_a.child, name="林晓宝")
    runs.run_county(personas.county, threshold=0.5)
    pair = CandidatePair.objects.get(person_a=family_a.child, person_b=dup)
    actions.decide(personas.county, [actions.Decision(pair.pk, "different", reason="双胞胎")])
    again = runs.run_county(personas.county, threshold=0.5)
    pair.refresh_from_db()
    assert pair.status == PairStatus.DIFFERENT and again.kept_decided >= 1 and again.new == 0
    registry_actions.correct_identity(personas.township, dup, name="林小宝", via="test")
    third = runs.run_county(personas.county, threshold=0.5)
    pair.refresh_from_db()
    assert third.reopened == 1 and pair.status == PairStatus.OPEN


def test_a_flag_is_cleared_when_the_data_that_raised_it_changes(personas: Personas,
                                                               family_a: Family) -> None:
    dup = duplicate_of(personas.cadre_a, family_a.child)
    pair = queued_pair(personas.county, family_a.child, dup)
    assert actions.clear_stale(personas.county, [dup]) == 0  # nothing changed yet
    registry_actions.correct_identity(personas.township, dup, name="林大宝", via="test")
    pair.refresh_from_db()
    assert pair.status == PairStatus.CLEARED  # by the change itself (identity.hooks)
    assert AuditEvent.objects.filter(action="identity.pair_cleared", object_id=str(pair.pk))
    assert actions.clear_stale(personas.county, [dup]) == 0  # nothing left to clear
    with pytest.raises(Conflict, match="已裁决"):
        actions.decide(personas.county, [actions.Decision(pair.pk, "different", reason="x")])


def test_a_merge_is_refused_when_both_records_have_a_case_of_the_same_year(
        personas: Personas, family_a: Family) -> None:
    dup = duplicate_of(personas.cadre_a, family_a.child)
    _case(personas, family_a, family_a.child)
    _case(personas, family_a, dup)
    pair = queued_pair(personas.county, family_a.child, dup)
    with pytest.raises(Conflict, match="同一项目同一年度都有案件"):
        actions.decide(personas.county, [actions.Decision(pair.pk, "same", reason="同一人")])
    pair.refresh_from_db()
    assert pair.status == PairStatus.OPEN and not PersonMerge.objects.exists()


def _snapshot(tmp_path: Path, keys: list[int], areas: list[str]) -> Path:
    path = tmp_path / "national.parquet"
    pq.write_table(pa.table({"person_key": pa.array(keys, pa.int64()),
                             "hukou_area_code": areas}), path)
    return path


def test_a_claim_in_another_county_opens_a_duplicate_claim_that_holds_payment(
        personas: Personas, family_a: Family, tmp_path: Path) -> None:
    case = _case(personas, family_a, family_a.child)
    assert actions.open_duplicate_claim(case) is False
    key = runs.person_key(family_a.child.id_hash)
    snap = _snapshot(tmp_path, [key, key + 1], ["440524101001", "440524101001"])
    result = runs.run_claims(personas.county, snap)
    assert result.new == 1
    claim = DuplicateClaim.objects.get(person=family_a.child)
    assert claim.kind == "two_counties" and claim.counties == ["440524", "445224"]
    assert actions.open_duplicate_claim(case) is True
    assert runs.run_claims(personas.county, snap).new == 0  # still the one open claim
    # another schema: named, nothing created
    bad = tmp_path / "other.parquet"
    pq.write_table(pa.table({"id": [1]}), bad)
    with pytest.raises(MatchInputError, match="缺少列 person_key"):
        runs.run_claims(personas.county, bad)
    assert DuplicateClaim.objects.count() == 1


def test_the_county_claims_go_by_programme_and_the_rules_stacking(
        personas: Personas, tmp_path: Path) -> None:
    """Each of the county's claims is a row with its programme and claimant: a mother on
    奖励扶助 and 特别扶助 (they stack) is no duplicate claim, and two years of one programme
    are one claim; another county's claim of one of them is."""
    from tests.web.feeds_helpers import apply_for, older_family

    fam = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1962, 3, 1),
                       mother_born=date(1964, 5, 1), child_born=date(1990, 1, 1))
    apply_for(personas, "rural-reward", fam.mother, policy_status_confirmed=True)
    apply_for(personas, "rural-reward", fam.mother, 2025, policy_status_confirmed=True)
    apply_for(personas, "special-assistance", fam.mother, policy_status_confirmed=True)
    other = runs.person_key(fam.father.id_hash) + 7
    snap = _snapshot(tmp_path, [other], ["440524101001"])
    assert runs.run_claims(personas.county, snap).new == 0
    assert not DuplicateClaim.objects.exists()
    snap = _snapshot(tmp_path, [runs.person_key(fam.mother.id_hash)], ["440524101001"])
    assert runs.run_claims(personas.county, snap).new == 1
    assert DuplicateClaim.objects.get(person=fam.mother).kind == "two_counties"


def test_the_county_writes_its_claims_and_the_province_checks_them(
        personas: Personas, family_a: Family, tmp_path: Path) -> None:
    """`registry claims` writes the county's claims (no name, no number); the province runs
    `registry duplicates --scope claims --snapshot DIR --output F` over every county's file:
    a child claimed here by the mother and in another county by the father is found."""
    import csv

    _case(personas, family_a, family_a.child)
    out = tmp_path / "province"
    out.mkdir()
    runner = CliRunner()
    wrote = runner.invoke(app, ["registry", "claims", "--user", "county", "--out", str(out)])
    assert wrote.exit_code == 0, wrote.output
    [mine] = list(out.glob("claims-445224-*.parquet"))
    table = pq.read_table(mine)
    child, mother, father = (runs.person_key(p.id_hash) for p in
                             (family_a.child, family_a.mother, family_a.father))
    assert table.to_pylist() == [{"person_key": child, "hukou_area_code": VILLAGE_A,
                                  "claimant_key": mother, "program_id": "childcare-subsidy"}]
    raw = mine.read_bytes()
    assert family_a.child.id_number.encode() not in raw
    assert family_a.child.name.encode() not in raw
    assert AuditEvent.objects.filter(action="identity.claims_export",
                                     data__file=mine.name).exists()
    again = runner.invoke(app, ["registry", "claims", "--user", "county", "--out", str(out)])
    assert again.exit_code == 2 and "已存在" in again.output
    refused = runner.invoke(app, ["registry", "claims", "--user", "township", "--out",
                                  str(tmp_path)])
    assert refused.exit_code == 1 and not list(tmp_path.glob("claims-*.parquet"))
    # another county's approver writes only that county's claims: here none, so no file
    other = runner.invoke(app, ["registry", "claims", "--user", personas.county_b.username,
                                "--out", str(tmp_path)])
    assert other.exit_code == 2 and "没有在办的申领" in "".join(other.output.split())
    assert not list(tmp_path.glob("claims-*.parquet"))
    assert AuditEvent.objects.filter(action="identity.claims_export").count() == 1
    pq.write_table(pa.table({
        "person_key": pa.array([child], pa.int64()), "hukou_area_code": ["440524101001"],
        "claimant_key": pa.array([father], pa.int64()),
        "program_id": ["childcare-subsidy"]}), out / "claims-440524-2026-12-01.parquet")
    dest = tmp_path / "dup.csv"
    checked = runner.invoke(app, ["registry", "duplicates", "--scope", "claims",
                                  "--snapshot", str(out), "--output", str(dest)])
    assert checked.exit_code == 0, checked.output
    with dest.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"person_key": str(child), "kind": "two_counties", "claims": "2",
                     "counties": "440524;445224"}]
    # bad input: named, exit 2, no file left
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(app, ["registry", "duplicates", "--scope", "claims", "--snapshot",
                              str(empty), "--output", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "没有Parquet文件" in "".join(bad.output.split())
    assert not (tmp_path / "x.csv").exists()


def test_the_cli_queues_pairs_from_the_database(personas: Personas, family_a: Family,
                                                tmp_path: Path) -> None:
    duplicate_of(personas.cadre_a, family_a.child)
    runner = CliRunner()
    ok = runner.invoke(app, ["registry", "duplicates", "--user", "county"])
    assert ok.exit_code == 0, ok.output
    assert "新增疑似重复" in ok.output and CandidatePair.objects.exists()
    refused = runner.invoke(app, ["registry", "duplicates", "--user", "cadre_a"])
    assert refused.exit_code == 1 and "仅限" in refused.output
    no_snap = runner.invoke(app, ["registry", "duplicates", "--user", "county",
                                  "--scope", "claims"])
    assert no_snap.exit_code == 2 and "--snapshot" in no_snap.output
    bad = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": [1]}), bad)
    wrong = runner.invoke(app, ["registry", "duplicates", "--user", "county", "--scope",
                                "claims", "--snapshot", str(bad)])
    assert wrong.exit_code == 2 and "快照格式不符" in wrong.output


def test_merge_refuses_another_role_and_outsiders(personas: Personas, family_a: Family,
                                                  family_b: Family) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    dup = duplicate_of(personas.cadre_a, family_a.child)
    with pytest.raises(PermissionDenied):
        registry_actions.merge_persons(personas.cadre_a, family_a.child, dup, reason="同一人")
    with pytest.raises(Http404):
        registry_actions.merge_persons(personas.township, family_b.child, dup, reason="同一人")
    with pytest.raises(ActionError, match="理由"):
        registry_actions.merge_persons(personas.county, family_a.child, dup, reason=" ")
    with pytest.raises(ActionError, match="同一条记录"):
        registry_actions.merge_persons(personas.county, dup, dup, reason="x")
    assert not PersonMerge.objects.exists()
    assert date.today().year >= 2025 and VILLAGE_A.startswith("445224")


@pytest.mark.django_db(transaction=True)
def test_a_new_record_is_scored_against_the_register_when_it_commits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import make_family, make_personas

    personas = make_personas()
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))
    assert not CandidatePair.objects.exists()  # scoring off (the suite's default)
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "1")
    dup = duplicate_of(personas.cadre_a, fam.child, name="林晓宝")
    pair = CandidatePair.objects.get(person_a=fam.child, person_b=dup)
    assert pair.scope == "change" and pair.status == PairStatus.OPEN
    found = AuditEvent.objects.get(action="identity.pair_found", object_id=str(pair.pk))
    assert found.actor is None and found.data["scope"] == "change"
    # a change of the record clears the flag its old data raised, in the change's transaction
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "0")
    registry_actions.correct_identity(personas.township, dup, name="林大宝", via="test")
    pair.refresh_from_db()
    assert pair.status == PairStatus.CLEARED


@pytest.mark.django_db(transaction=True)
def test_records_of_a_rolled_back_transaction_are_not_scored_with_the_next(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A registration rolled back leaves nothing waiting: the next commit scores only its
    own records against the register (the child scheduled in the rolled-back transaction,
    left waiting, would count as new and never be compared with its duplicate)."""
    from django.db import transaction

    from huimin.identity import hooks
    from tests.conftest import make_family, make_personas

    personas = make_personas()
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "1")
    with pytest.raises(RuntimeError), transaction.atomic():
        hooks.schedule([fam.child.pk])
        raise RuntimeError("rolled back")
    dup = duplicate_of(personas.cadre_a, fam.child, name="林晓宝")
    assert CandidatePair.objects.filter(person_a=fam.child, person_b=dup).exists()


@pytest.mark.django_db(transaction=True)
def test_two_records_of_one_import_are_compared_with_each_other(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Duplicates inside one file: scored among themselves as well as against the register
    (here a county with nobody else in it yet)."""
    from huimin.registry.importer import import_registry, rows_to_csv
    from huimin.registry.models import Person
    from tests.conftest import make_personas, new_id

    personas = make_personas()
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "1")
    born = date(2023, 12, 10)
    rows = [[f"{VILLAGE_A}-900{n}", name, new_id(born, "M"), "男", born.isoformat(), VILLAGE_A,
             "农业", "", "", "", "", ""] for n, name in ((1, "林小宝"), (2, "林晓宝"))]
    import_registry(personas.cadre_a, rows_to_csv(rows), "new.csv")
    a, b = (Person.objects.get(name=n) for n in ("林小宝", "林晓宝"))
    pair = CandidatePair.objects.get()
    assert {pair.person_a_id, pair.person_b_id} == {a.pk, b.pk}
    assert pair.scope == "change" and pair.status == PairStatus.OPEN


@pytest.mark.django_db(transaction=True)
def test_an_imported_record_is_scored_against_the_register_when_the_import_commits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The importer inserts in bulk (no ``post_save``): it schedules the scoring itself."""
    from huimin.registry.importer import import_registry, rows_to_csv
    from tests.conftest import make_family, make_personas, new_id

    personas = make_personas()
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))
    monkeypatch.setenv("HUIMIN_DUPLICATES_ON_CHANGE", "1")
    child = fam.child
    row = [f"{VILLAGE_A}-9001", "林晓宝", new_id(child.birth_date, child.sex),
           child.get_sex_display(), child.birth_date.isoformat(), VILLAGE_A,
           "农业", "", "", "", "", ""]
    import_registry(personas.cadre_a, rows_to_csv([row]), "new.csv")
    pair = CandidatePair.objects.get(person_a=child)
    assert pair.person_b.name == "林晓宝" and pair.scope == "change"


def test_two_numbers_the_masks_show_alike_are_marked_as_differing(personas: Personas,
                                                                   family_a: Family) -> None:
    """The masks keep the first and last characters only: numbers that differ in the middle
    look the same masked. The row is marked, with how many places differ and no digit."""
    from huimin.lib.idnumber import make

    child = family_a.child
    number = child.id_number
    seq = int(number[14:17])
    twin = next(n for s in range(1000) if s % 2 == seq % 2 and s != seq
                for n in [make(number[:6], child.birth_date, s)] if n[-1] == number[-1])
    dup = registry_actions.create_person(personas.cadre_a, name=child.name, id_number=twin,
                                         sex=child.sex, birth_date=child.birth_date,
                                         area=child.area, hukou_type=child.hukou_type)
    assert dup.id_masked == child.id_masked
    pair = queued_pair(personas.county, child, dup)
    html = _client(personas.township).get(reverse("identity:pair", args=[pair.pk])
                                          ).content.decode()
    at = html.index("<th>身份证号码</th>")
    row = html[html.rindex("<tr", 0, at):html.index("</tr>", at)]
    apart = sum(x != y for x, y in zip(number, twin, strict=True))
    assert 'class="dup-differs"' in row and f"（与左侧相差 {apart} 位）" in row
    assert number not in html and twin not in html


def test_the_queue_pages_its_pairs(personas: Personas, family_a: Family,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from huimin.identity import views

    monkeypatch.setattr(views, "QUEUE_PAGE", 2)
    made = [queued_pair(personas.county, family_a.child, duplicate_of(personas.cadre_a,
                                                                      family_a.child),
                        p=0.99 - n / 100) for n in range(5)]
    client = _client(personas.township)
    seen = []
    for page in (1, 2, 3):
        html = client.get(reverse("identity:queue"), {"page": page}).content.decode()
        assert "共 5 对待裁决" in html and f"第 {page}/3 页" in html
        seen += [p.number for p in made if p.number in html]
        assert ('data-testid="pairs-next"' in html) == (page < 3)
    assert seen == [p.number for p in made]  # highest probability first, each once
