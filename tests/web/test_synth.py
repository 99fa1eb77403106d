"""The synthetic county generator: deterministic, valid, plausible; database and Parquet."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from huimin.lib import idnumber
from huimin.registry.models import Area, ParentChild, Person
from huimin.registry.snapshot import read_snapshot
from huimin.registry.synth import generate, to_parquet
from huimin.registry.synth_db import populate

AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def villages() -> list[tuple[str, str]]:
    return [(c, n) for c, n, lv in read_snapshot("445224") if lv == "village"]


def test_same_seed_same_people(villages: list[tuple[str, str]], tmp_path: Path) -> None:
    a = list(generate(villages, 600, seed=7, as_of=AS_OF))
    b = list(generate(villages, 600, seed=7, as_of=AS_OF))
    c = list(generate(villages, 600, seed=8, as_of=AS_OF))
    assert [(p.name, p.id_number) for p in a] == [(p.name, p.id_number) for p in b]
    assert [p.id_number for p in a] != [p.id_number for p in c]
    pa1, _ = to_parquet(a, tmp_path / "one")
    pa2, _ = to_parquet(b, tmp_path / "two")
    assert pq.read_table(pa1).equals(pq.read_table(pa2))


def test_people_are_valid_and_plausible(villages: list[tuple[str, str]]) -> None:
    people = list(generate(villages, 3000, seed=1, as_of=AS_OF))
    assert len(people) >= 3000
    codes = {c for c, _ in villages}
    ids = set()
    for p in people:
        parsed = idnumber.parse(p.id_number, today=AS_OF)
        assert parsed.birth_date == p.birth_date and parsed.sex == p.sex
        assert p.village in codes
        assert p.death_date is None or p.birth_date <= p.death_date <= AS_OF
        ids.add(p.id_number)
    assert len(ids) == len(people)
    small = [p for p in people if p.birth_date >= date(2022, 1, 1)]
    assert len(small) > len(people) * 0.1
    assert all(p.birth_date <= AS_OF for p in small)
    assert {p.hukou_type for p in people} == {"rural", "urban"}
    assert any(p.death_date for p in people)
    by_key = {p.key: p for p in people}
    for child in people:
        for key, rel in child.parents:
            parent = by_key[key]
            assert parent.birth_date.year + 15 <= child.birth_date.year
            assert parent.sex == ("M" if rel == "father" else "F")


@pytest.mark.django_db
def test_populate_writes_database_and_parquet(tmp_path: Path) -> None:
    stats = populate("445224", 400, seed=3, as_of=AS_OF, parquet_dir=tmp_path)
    assert stats["persons"] == Person.objects.count() >= 400
    assert stats["links"] == ParentChild.objects.count() > 0
    table = pq.read_table(tmp_path / "persons.parquet")
    assert table.num_rows == stats["persons"]
    assert set(table.column("person_id").to_pylist()) == set(
        Person.objects.values_list("id", flat=True))
    assert {"person_id", "birth_date", "death_date", "hukou_area_code", "hukou_type"} <= set(
        table.column_names)
    sample = Person.objects.order_by("id").first()
    assert sample is not None
    row = table.filter(pc.equal(table.column("person_id"), sample.pk)).to_pylist()[0]
    assert row["id_number"] == sample.id_number
    assert Area.objects.get(code=row["hukou_area_code"]).level == "village"


def test_a_full_birth_date_moves_on_instead_of_retrying_forever() -> None:
    from huimin.registry.synth import _Draw, neighbour_codes

    draw = _Draw(5)
    draw.birthplaces = ["445224", *neighbour_codes("445224")]
    day = date(1975, 12, 31)
    numbers = [draw.id_number("445224", day, "F") for _ in range(700)]
    assert len(set(numbers)) == 700
    for n in numbers:
        parsed = idnumber.parse(n, today=AS_OF)
        assert (parsed.birth_date, parsed.sex) == (day, "F")
    assert sum(n.startswith("445224") for n in numbers) == 500
    assert {n[:6] for n in numbers[500:]} <= set(draw.birthplaces[1:])
    alone = _Draw(5)
    alone.birthplaces = ["445224"]
    for _ in range(500):
        alone.id_number("445224", day, "M")
    with pytest.raises(ValueError, match="顺序码已用完"):
        alone.id_number("445224", day, "M")


def test_older_wives_are_spread_not_piled_on_one_day(
        villages: list[tuple[str, str]]) -> None:
    people = list(generate(villages, 4000, seed=2, as_of=AS_OF))
    last_day = [p for p in people if p.birth_date == date(1975, 12, 31)]
    assert len(last_day) < 10
    assert len({p.id_number for p in people}) == len(people)
