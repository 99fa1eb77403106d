"""The damaged test set: a synthetic county register with duplicates keyed in by hand.

Each duplicate copies a person and applies one damage (70 %) or two (30 %), drawn from the
kinds registers really carry: a homophone character (王→汪, 伟→玮), a traditional or variant
form (华→華), a dropped character, the old 15-digit ID number, two adjacent ID digits
transposed, one ID digit mistyped, no ID at all, birth day and month swapped, one birth-date
digit mistyped, the person entered again in another village. Hard negatives are added too:
twins (same household, birth date and surname, often a homophone given name, their own valid
ID numbers) — the people a name-and-birthday matcher wrongly merges. Same seed → same set.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from huimin.identity.match.names import VARIANTS, char_pinyin
from huimin.lib import idnumber

DAMAGES = ("homophone", "variant", "dropped", "id15", "id_transposed", "id_typo", "no_id",
           "swapped_date", "date_digit", "other_village")
TRADITIONAL = {simple: trad for trad, simple in VARIANTS.items() if simple != trad}


@dataclass
class TestSet:
    table: pa.Table
    truth: set[tuple[int, int]]
    makeup: dict[str, int]


def build(persons: int, *, seed: int = 1, dup_share: float = 0.05, twin_share: float = 0.01,
          county: str = "445224", as_of: date = date(2025, 12, 31)) -> TestSet:
    from huimin.registry.snapshot import read_snapshot
    from huimin.registry.synth import generate

    villages = [(c, n) for c, n, lv in read_snapshot(county) if lv == "village"]
    people = list(generate(villages, persons, seed=seed, as_of=as_of))
    rng = random.Random(seed * 7919 + 1)
    by_py: dict[str, list[str]] = defaultdict(list)
    for ch in sorted({ch for p in people for ch in p.name}):
        by_py[char_pinyin(ch)].append(ch)
    used = {p.id_number for p in people}
    cols: dict[str, list[object]] = {k: [] for k in (
        "person_id", "household_number", "name", "id_number", "sex", "birth_date",
        "death_date", "hukou_area_code", "hukou_type")}

    def add(pid: int, hh: str, name: str, idn: str, sex: str, born: date, died: date | None,
            area: str, hukou: str) -> None:
        for k, v in zip(cols, (pid, hh, name, idn, sex, born, died, area, hukou), strict=True):
            cols[k].append(v)

    for p in people:
        add(p.key, p.household, p.name, p.id_number, p.sex, p.birth_date, p.death_date,
            p.village, p.hukou_type)
    truth: set[tuple[int, int]] = set()
    makeup: Counter[str] = Counter({"persons": len(people)})
    next_id = max(p.key for p in people) + 1

    def homophone(name: str) -> str | None:
        spots = [i for i, ch in enumerate(name) if len(by_py[char_pinyin(ch)]) > 1]
        if not spots:
            return None
        i = rng.choice(spots)
        other = rng.choice([c for c in by_py[char_pinyin(name[i])] if c != name[i]])
        return name[:i] + other + name[i + 1:]

    for p in rng.sample(people, int(len(people) * dup_share)):
        name, idn, born, area = p.name, p.id_number, p.birth_date, p.village
        kinds = rng.sample(DAMAGES, 2 if rng.random() < 0.3 else 1)
        applied = []
        for kind in kinds:
            if kind == "variant" and any(ch in TRADITIONAL for ch in name):
                i = next(i for i, ch in enumerate(name) if ch in TRADITIONAL)
                name = name[:i] + TRADITIONAL[name[i]] + name[i + 1:]
            elif kind in ("variant", "homophone") and (h := homophone(name)):
                name, kind = h, "homophone"
            elif kind == "dropped" and len(name) >= 3:
                i = rng.randrange(1, len(name))
                name = name[:i] + name[i + 1:]
            elif kind == "id15" and idn and idn[6:8] == "19":
                idn = idn[:6] + idn[8:17]
            elif kind == "id_transposed" and len(idn) == 18:
                spots = [i for i in range(16) if idn[i] != idn[i + 1]]
                i = rng.choice(spots)
                idn = idn[:i] + idn[i + 1] + idn[i] + idn[i + 2:]
            elif kind in ("id_typo", "id15", "id_transposed") and len(idn) == 18:
                i = rng.randrange(17)
                idn = idn[:i] + rng.choice([d for d in "0123456789" if d != idn[i]]) + idn[i + 1:]
                kind = "id_typo"
            elif kind == "swapped_date" and born.day <= 12 and born.day != born.month:
                born = date(born.year, born.day, born.month)
            elif kind in ("swapped_date", "date_digit"):
                tens, unit = divmod(born.day, 10)
                days = [tens * 10 + u for u in range(10) if u != unit and 1 <= tens * 10 + u <= 28]
                days = days or [t * 10 + unit for t in range(3) if t != tens and t * 10 + unit]
                born, kind = date(born.year, born.month, rng.choice(days)), "date_digit"
            elif kind == "other_village":
                area = rng.choice([c for c, _ in villages if c != p.village])
            elif kind == "no_id" or kind in ("variant", "homophone", "dropped"):
                idn, kind = "", "no_id"
            else:
                continue
            applied.append(kind)
        if not applied:
            continue
        makeup["duplicates"] += 1
        for kind in applied:
            makeup[f"damage:{kind}"] += 1
        makeup[f"damages_per_duplicate:{len(applied)}"] += 1
        add(next_id, f"{area}-D{next_id}", name, idn, p.sex, born, p.death_date, area,
            p.hukou_type)
        truth.add((p.key, next_id))
        next_id += 1

    children = [p for p in people if p.parents]
    for p in rng.sample(children, int(len(people) * twin_share)):
        given = homophone(p.name[1:]) if rng.random() < 0.4 and len(p.name) > 1 else None
        name = p.name[0] + given if given else p.name[:-1] + rng.choice(
            [c for cs in by_py.values() for c in cs if c != p.name[-1]][:400])
        seq = int(p.id_number[14:17])
        while True:
            seq = (seq + 2) % 1000
            idn = idnumber.make(p.id_number[:6], p.birth_date, seq)
            if idn not in used:
                used.add(idn)
                break
        add(next_id, p.household, name, idn, p.sex, p.birth_date, None, p.village,
            p.hukou_type)
        makeup["twins (hard negatives)"] += 1
        next_id += 1

    table = pa.table({
        "person_id": pa.array(cols["person_id"], pa.int64()),
        "household_number": pa.array(cols["household_number"], pa.string()),
        "name": pa.array(cols["name"], pa.string()),
        "id_number": pa.array(cols["id_number"], pa.string()),
        "sex": pa.array(cols["sex"], pa.string()),
        "birth_date": pa.array(cols["birth_date"], pa.date32()),
        "death_date": pa.array(cols["death_date"], pa.date32()),
        "hukou_area_code": pa.array(cols["hukou_area_code"], pa.string()),
        "hukou_type": pa.array(cols["hukou_type"], pa.string()),
    })
    makeup["rows"] = table.num_rows
    return TestSet(table, truth, dict(makeup))


#: the counties of 揭阳市 (a prefecture of about 6 million): a register of a million people
#: spreads over several, as one county's address code has only 500 sequence numbers per sex
#: and birth date
REGION = ("445224", "445222", "445202", "445203", "445281")


def build_region(persons: int, *, seed: int = 1, counties: tuple[str, ...] = REGION,
                 dup_share: float = 0.05, twin_share: float = 0.01) -> TestSet:
    """``build`` over several counties (an equal share each), person ids kept apart."""
    tables, truth, makeup = [], set(), Counter[str]()
    offset = 0
    for i, county in enumerate(counties):
        part = build(persons // len(counties), seed=seed + 1000 * i, county=county,
                     dup_share=dup_share, twin_share=twin_share)
        ids = pa.array([int(x) + offset for x in part.table["person_id"].to_pylist()],
                       pa.int64())
        tables.append(part.table.set_column(0, "person_id", ids))
        truth |= {(a + offset, b + offset) for a, b in part.truth}
        makeup.update(part.makeup)
        offset = int(max(ids.to_pylist())) + 1
    return TestSet(pa.concat_tables(tables), truth, dict(makeup))
