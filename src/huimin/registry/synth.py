"""A deterministic synthetic county: households, persons, parent–child links, accounts.

Same seed, size and reference date → the same people. Names come from Faker zh_CN (drawn
once into pools, then picked with the seeded generator); ID numbers are valid GB 11643
numbers; areas are the real villages loaded from the shipped division snapshot.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker

from huimin.lib import idnumber

#: random sequence numbers tried before the free ones of the day are scanned in order
RANDOM_DRAWS = 8
#: the youngest wife of an older couple (their children are grown by now)
OLDEST_COUPLE_WIFE = date(1975, 12, 31)

BANKS = ["中国农业银行", "中国邮政储蓄银行", "农村商业银行", "中国工商银行", "中国建设银行"]


@dataclass
class SynthPerson:
    key: int
    household: str
    name: str
    id_number: str
    sex: str
    birth_date: date
    village: str
    hukou_type: str
    death_date: date | None = None
    bank_name: str = ""
    account: str = ""
    parents: list[tuple[int, str]] = field(default_factory=list)  # (parent key, relation)


class _Draw:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.surnames = [fake.last_name() for _ in range(400)]
        self.male = [fake.first_name_male() for _ in range(800)]
        self.female = [fake.first_name_female() for _ in range(800)]
        self.used_ids: set[str] = set()
        self.birthplaces: list[str] = []  # further 6-digit address codes, when one is full

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def id_number(self, address: str, born: date, sex: str) -> str:
        """A number not handed out yet. A (address code, birth date, sex) has 500 sequence
        numbers; a few random draws, then a scan of what is left, then the next address code
        of ``birthplaces`` (people registered there at birth): never an endless retry."""
        for _ in range(RANDOM_DRAWS):
            seq = self.rng.randrange(0, 1000)
            if (seq % 2 == 1) != (sex == "M"):
                seq = (seq + 1) % 1000
            value = idnumber.make(address, born, seq)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value
        for code in [address, *(c for c in self.birthplaces if c != address)]:
            for seq in range(1 if sex == "M" else 0, 1000, 2):
                value = idnumber.make(code, born, seq)
                if value not in self.used_ids:
                    self.used_ids.add(value)
                    return value
        codes = "、".join([address, *self.birthplaces])
        raise ValueError(f"出生日期 {born.isoformat()} 的{'男' if sex == 'M' else '女'}性身份证"
                         f"顺序码已用完（地址码 {codes}，每个 500 个），请提供更多地址码")

    def account(self) -> tuple[str, str]:
        return self.rng.choice(BANKS), "6217" + "".join(
            str(self.rng.randrange(10)) for _ in range(15))


def generate(
    villages: list[tuple[str, str]], persons: int, *, seed: int = 1, as_of: date,
    birthplaces: list[str] | None = None,
) -> Iterator[SynthPerson]:
    """Yield about ``persons`` people (whole households), parents before their children.

    ``villages`` is a list of (12-digit code, name) of village-level areas. ID numbers carry
    the address code of the village's county; where a birth date's 500 numbers of one sex
    there are used up, those of ``birthplaces`` (6-digit codes, e.g. the prefecture's other
    counties) in turn, and a clear error when they are too.
    """
    if not villages:
        raise ValueError("没有可用的村（居）委会区划，请先导入区划")
    d = _Draw(seed)
    own = sorted({code[:6] for code, _ in villages})
    d.birthplaces = own + [c for c in (birthplaces or []) if c not in own]
    rng = d.rng
    key = 0
    made = 0
    hh_no = 0
    counters: dict[str, int] = {}

    def person(hh: str, village: str, hukou: str, sex: str, born: date, surname: str,
               died: date | None = None) -> SynthPerson:
        nonlocal key
        key += 1
        given = rng.choice(d.male if sex == "M" else d.female)
        address = village[:6] if rng.random() < 0.9 else rng.choice(villages)[0][:6]
        return SynthPerson(key, hh, surname + given, d.id_number(address, born, sex), sex, born,
                           village, hukou, died)

    while made < persons:
        village = rng.choice(villages)[0]
        rural = int(village[9:12]) >= 200
        hukou = "rural" if (rural and rng.random() < 0.92) or rng.random() < 0.1 else "urban"
        counters[village] = counters.get(village, 0) + 1
        hh_no += 1
        hh = f"{village}-{counters[village]:04d}"
        surname = rng.choice(d.surnames)
        kind = rng.random()
        members: list[SynthPerson] = []
        if kind < 0.55:  # a young family with small children
            father = person(hh, village, hukou, "M", d.day(date(1982, 1, 1), date(2001, 12, 31)),
                            surname)
            mother = person(hh, village, hukou, "F", d.day(date(1984, 1, 1), date(2003, 12, 31)),
                            rng.choice(d.surnames))
            members += [father, mother]
            n_children = rng.choices([1, 2, 3], weights=[55, 35, 10])[0]
            grown = max(father.birth_date, mother.birth_date) + timedelta(days=19 * 366)
            for i in range(n_children):
                recent = i == n_children - 1 or rng.random() < 0.4 or grown > date(2021, 1, 1)
                born = d.day(max(grown, date(2022, 1, 1)), as_of) if recent else d.day(
                    grown, date(2021, 12, 31))
                child = person(hh, village, hukou, rng.choice("MF"), born, surname)
                if rng.random() < 0.004:
                    child.death_date = d.day(born, as_of)
                child.parents = [(father.key, "father"), (mother.key, "mother")]
                members.append(child)
            for p in (father, mother):
                if rng.random() < 0.85:
                    p.bank_name, p.account = d.account()
        else:  # an older couple (or widow/widower), children grown or lost
            husband = person(hh, village, hukou, "M", d.day(date(1936, 1, 1), date(1972, 12, 31)),
                             surname)
            wife_born = husband.birth_date + timedelta(days=rng.randrange(-1500, 2500))
            if wife_born > OLDEST_COUPLE_WIFE:  # folded back, not piled up on the last day
                wife_born = OLDEST_COUPLE_WIFE - (wife_born - OLDEST_COUPLE_WIFE)
            wife = person(hh, village, hukou, "F", wife_born, rng.choice(d.surnames))
            for p in (husband, wife):
                if rng.random() < 0.06:
                    p.death_date = d.day(date(2019, 1, 1), as_of)
                p.bank_name, p.account = d.account()
            members += [husband, wife]
            n_children = rng.choices([1, 2], weights=[60, 40])[0]
            for _ in range(n_children):
                born = d.day(max(wife.birth_date + timedelta(days=20 * 365), date(1956, 1, 1)),
                             min(wife.birth_date + timedelta(days=38 * 365), date(2005, 12, 31)))
                child = person(hh, village, hukou, rng.choice("MF"), born, surname)
                if rng.random() < 0.05:
                    child.death_date = d.day(born + timedelta(days=365), as_of)
                child.parents = [(husband.key, "father"), (wife.key, "mother")]
                members.append(child)
        made += len(members)
        yield from members


def neighbour_codes(county: str) -> list[str]:
    """The 6-digit codes of the other counties of ``county``'s prefecture in the shipped
    division snapshot: where people of the county were registered at birth besides it."""
    import pyarrow.compute as pc

    from huimin.registry.snapshot import SNAPSHOT

    table = pq.read_table(SNAPSHOT, columns=["code", "level"])
    table = table.filter(pc.equal(table["level"], "county"))
    codes = sorted({c[:6] for c in table["code"].to_pylist() if c[:4] == county[:4]})
    return [c for c in codes if c != county[:6]]


def to_parquet(people: list[SynthPerson], out_dir: Path,
               ids: Callable[[SynthPerson], int] | None = None) -> tuple[Path, Path]:
    """Write persons.parquet and parent_child.parquet; ``ids`` maps to database ids."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pid = ids or (lambda p: p.key)
    by_key = {p.key: p for p in people}
    persons = pa.table({
        "person_id": pa.array([pid(p) for p in people], pa.int64()),
        "household_number": [p.household for p in people],
        "name": [p.name for p in people],
        "id_number": [p.id_number for p in people],
        "sex": [p.sex for p in people],
        "birth_date": pa.array([p.birth_date for p in people], pa.date32()),
        "death_date": pa.array([p.death_date for p in people], pa.date32()),
        "hukou_area_code": [p.village for p in people],
        "hukou_type": [p.hukou_type for p in people],
    })
    links = [(pid(by_key[k]), pid(p), rel) for p in people for k, rel in p.parents]
    parent_child = pa.table({
        "parent_id": pa.array([a for a, _, _ in links], pa.int64()),
        "child_id": pa.array([b for _, b, _ in links], pa.int64()),
        "relation": [r for _, _, r in links],
    })
    a, b = out_dir / "persons.parquet", out_dir / "parent_child.parquet"
    pq.write_table(persons, a, compression="zstd")
    pq.write_table(parent_child, b, compression="zstd")
    return a, b
