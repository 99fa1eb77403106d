"""A duplicate record merged into the kept one leaves the register: lists, intake, change
requests, duplicate scoring and snapshots pass it by; a feed row naming its ID number is
matched to the kept record; both records' pages show the merge; no child is counted twice."""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huimin.audit.models import AuditEvent
from huimin.cases import bulk
from huimin.cases.models import Case
from huimin.errors import Conflict, FileRejected
from huimin.identity import runs
from huimin.identity.models import CandidatePair, PersonMerge
from huimin.programs import snapshot as county_snapshot
from huimin.programs.subjects import subject_facts
from huimin.registry import actions as registry_actions
from huimin.registry.models import ChangeRequest, ParentChild, Person
from huimin.verification.models import FeedRow
from tests.conftest import PASSWORD, Family, Personas
from tests.web import feeds_helpers as fh
from tests.web.changes_helpers import submit
from tests.web.identity_helpers import duplicate_of

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c


@pytest.fixture
def merged(personas: Personas, family_a: Family) -> dict[str, Any]:
    """The child entered twice (the duplicate also linked to the mother), then merged."""
    dup = duplicate_of(personas.cadre_a, family_a.child, name="林晓宝")
    Person.objects.filter(pk=dup.pk).update(household=family_a.child.household)
    registry_actions.link_parent(family_a.mother, dup, "mother")
    merge = registry_actions.merge_persons(personas.county, family_a.child, dup,
                                           reason="户口簿核对为同一人")
    dup.refresh_from_db()
    return {"keep": family_a.child, "drop": dup, "merge": merge, "family": family_a}


def test_the_merged_record_points_at_the_kept_one_and_no_child_counts_twice(
        merged: dict[str, Any]) -> None:
    keep, drop, fam = merged["keep"], merged["drop"], merged["family"]
    assert drop.merged_into_id == keep.pk
    assert Person.objects.get(pk=keep.pk).merged_into_id is None
    # the mother's link to the duplicate was one she has to the kept child: removed, kept
    # in the merge record, so the mother has one child for every rule
    assert not ParentChild.objects.filter(child=drop).exists()
    removed = merged["merge"].moved["links_already_on_kept"]
    assert [(r["parent"], r["child"], r["relation"]) for r in removed] == [
        (fam.mother.pk, drop.pk, "mother")]
    facts = subject_facts(fam.mother)
    assert facts["children_count"] == 1
    assert subject_facts(keep)["birth_order"] == 1


def test_a_chain_of_merges_points_at_the_last_kept_record(personas: Personas,
                                                          family_a: Family) -> None:
    first = duplicate_of(personas.cadre_a, family_a.father)
    second = duplicate_of(personas.cadre_a, family_a.father)
    registry_actions.merge_persons(personas.county, second, first, reason="同一人")
    registry_actions.merge_persons(personas.county, family_a.father, second, reason="同一人")
    assert Person.objects.get(pk=first.pk).merged_into_id == family_a.father.pk
    assert Person.objects.get(pk=second.pk).merged_into_id == family_a.father.pk
    # the migration fills the field from the merges recorded before it, following chains
    Person.objects.filter(pk__in=[first.pk, second.pk]).update(merged_into=None)
    migration = importlib.import_module("huimin.registry.migrations.0008_person_merged_into")
    migration.fill(django_apps, None)
    assert set(Person.objects.filter(merged_into=family_a.father).values_list(
        "pk", flat=True)) == {first.pk, second.pk}


def test_lists_leave_it_out_and_a_number_search_finds_it_marked(
        personas: Personas, merged: dict[str, Any]) -> None:
    keep, drop = merged["keep"], merged["drop"]
    c = _client(personas.cadre_a)
    listed = c.get(reverse("registry:persons"), {"q": "林"}).content.decode()
    assert reverse("registry:person", args=[keep.pk]) in listed
    assert reverse("registry:person", args=[drop.pk]) not in listed
    shown = c.get(reverse("registry:persons"), {"status": "merged"}).content.decode()
    assert reverse("registry:person", args=[drop.pk]) in shown
    assert f"已并入人员 {keep.pk}" in shown
    assert reverse("registry:person", args=[keep.pk]) not in shown
    found = c.post(reverse("registry:persons"), {"id_number": drop.id_number}).content.decode()
    assert reverse("registry:person", args=[drop.pk]) in found and "已并入人员" in found
    # the API: left out of the name list; the number search says where it went
    api = c.get("/api/persons", {"q": "林"}).json()
    assert keep.pk in [p["id"] for p in api] and drop.pk not in [p["id"] for p in api]
    hit = c.post("/api/persons/search", {"id_number": drop.id_number},
                 content_type="application/json").json()
    assert [(p["id"], p["merged_into"]) for p in hit] == [(drop.pk, keep.pk)]
    # the export leaves it out too
    exported = c.post(reverse("registry:persons_export"), {"q": "林"})
    assert exported.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    masks = {str(cell) for row in sheet.iter_rows(values_only=True) for cell in row}
    assert keep.id_masked in masks and drop.id_masked not in masks


def test_it_takes_no_new_case_and_no_change(personas: Personas,
                                            merged: dict[str, Any]) -> None:
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program

    drop, fam = merged["drop"], merged["family"]
    program = Program.objects.get(code="childcare-subsidy")
    before = (Case.objects.count(), ChangeRequest.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Conflict, match=f"已并入人员 {merged['keep'].pk}"):
        case_actions.submit_application(personas.cadre_a, program=program, subject=drop,
                                        claim_year=2026, applicant=fam.mother)
    with pytest.raises(Conflict, match="已并入人员"):
        submit(personas.cadre_a, "identity", drop, {"name": "林小宝"})
    data = fh.csv_bytes(bulk.HEADER, [
        ["childcare-subsidy", drop.id_number, fam.mother.id_number, "2026", "", ""]])
    with pytest.raises(FileRejected) as exc:
        bulk.import_applications(personas.cadre_a, data, "申请.csv")
    assert [(e.row, e.column) for e in exc.value.errors] == [(2, "补贴对象身份证号码")]
    assert "已并入人员" in exc.value.errors[0].reason
    assert (Case.objects.count(), ChangeRequest.objects.count(),
            AuditEvent.objects.count()) == before
    # its page offers no change and says where to go
    page = _client(personas.cadre_a).get(reverse("registry:person", args=[drop.pk]))
    assert 'data-testid="change-new"' not in page.content.decode()


def test_it_is_not_scored_again(personas: Personas, merged: dict[str, Any]) -> None:
    keep, drop = merged["keep"], merged["drop"]
    third = duplicate_of(personas.cadre_a, keep, name="林小保")
    runs.run_county(personas.county, threshold=0.5)
    assert CandidatePair.objects.filter(person_a=keep, person_b=third).exists()
    assert not CandidatePair.objects.filter(person_a=drop).exists()
    assert not CandidatePair.objects.filter(person_b=drop).exists()
    # nor when it is changed or imported again with others
    runs.run_new_records([drop.pk, third.pk])
    assert not CandidatePair.objects.filter(person_b=drop).exists()
    assert not CandidatePair.objects.filter(person_a=drop).exists()


def test_a_death_reported_under_its_number_is_matched_to_the_kept_record(
        personas: Personas, merged: dict[str, Any]) -> None:
    keep, drop = merged["keep"], merged["drop"]
    Person.objects.filter(pk=keep.pk).update(name=drop.name)  # the name the feed carries
    day = timezone.localdate().replace(day=1)
    fh.load(personas.county, fh.death_file([["D-1", drop.id_number, drop.name,
                                             day.isoformat(), "县医院", "C-1"]]))
    row = FeedRow.objects.get(event_id="D-1")
    assert row.person_id == keep.pk and row.status == "matched"


def test_the_snapshot_for_the_province_leaves_it_out(
        personas: Personas, merged: dict[str, Any], settings: Any, tmp_path: Path) -> None:
    settings.SNAPSHOT_KEY = "province-snapshot-key-0123456789abcdef"
    snap = county_snapshot.write_snapshot(personas.county, tmp_path, pseudonymise=False)
    ids = {str(x) for x in pq.read_table(snap.path).column("person_id").to_pylist()}
    assert str(merged["keep"].pk) in ids and str(merged["drop"].pk) not in ids


def test_both_pages_show_the_merge(personas: Personas, merged: dict[str, Any]) -> None:
    keep, drop = merged["keep"], merged["drop"]
    c = _client(personas.township)
    page = c.get(reverse("registry:person", args=[drop.pk])).content.decode()
    assert 'data-testid="merged-into"' in page and "户口簿核对为同一人" in page
    assert reverse("registry:person", args=[keep.pk]) in page
    kept = c.get(reverse("registry:person", args=[keep.pk])).content.decode()
    assert 'data-testid="merged-in"' in kept and drop.id_masked in kept
    assert AuditEvent.objects.filter(action="person.list", person_id=drop.pk,
                                     data__via="merged_records").exists()
    assert AuditEvent.objects.filter(action="person.list", person_id=keep.pk,
                                     data__via="merged_into").exists()
    # the household shows the duplicate as merged
    assert drop.household_id is not None
    hh = c.get(reverse("registry:household", args=[drop.household_id])).content.decode()
    assert f"重复记录，已并入人员 {keep.pk}" in hh
    # outsiders: 404 for both pages
    for user in (personas.township_b, personas.county_b):
        for p in (keep, drop):
            assert _client(user).get(reverse("registry:person",
                                             args=[p.pk])).status_code == 404
    assert PersonMerge.objects.filter(drop=drop, keep=keep).exists()
