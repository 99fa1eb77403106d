"""The catalog of program documents, and resolution of a program for an area and date."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from huimin.rules.document import ProgramDef, ReviewLevel, load_document
from huimin.rules.errors import DocumentError, ProgramNotFound
from huimin.rules.evaluate import Evaluation, evaluate_subject

ENV_PROGRAMS_DIR = "HUIMIN_PROGRAMS_DIR"


@dataclass(frozen=True)
class Component:
    """One document taking part in a resolved program, with the area it applies to.

    ``slot`` 0 is the program itself (national or an area variant replacing it); higher slots
    are local schemes attached to it, which do not stack with it (the higher amount pays).
    A subject is covered by a component when its ``hukou_area_code`` starts with ``prefix`` and
    with none of ``excluded`` (more specific variants of the same slot).
    """

    doc: ProgramDef
    slot: int
    prefix: str
    excluded: tuple[str, ...] = ()

    def covers(self, area_code: str | None) -> bool:
        code = area_code or ""
        return code.startswith(self.prefix) and not any(code.startswith(x)
                                                        for x in self.excluded)


@dataclass(frozen=True)
class Program:
    """A program resolved for an area and date (``Catalog.resolve``) or for a claim year over
    all areas (``Catalog.for_year``). Evaluate one subject with ``evaluate``; compile the same
    definition to SQL with ``huimin.rules.compile``."""

    id: str
    components: tuple[Component, ...]

    @property
    def main(self) -> ProgramDef:
        return self.components[0].doc

    @property
    def name_zh(self) -> str:
        return self.main.name_zh

    @property
    def name_en(self) -> str:
        return self.main.name_en

    @property
    def review_chain(self) -> list[ReviewLevel]:
        return list(self.main.review_chain)

    @property
    def public_notice(self) -> bool:
        return self.main.public_notice

    @property
    def rule_version(self) -> str:
        return "+".join(c.doc.rule_version for c in self.components)

    def evaluate(self, subject: Mapping[str, object], year: int) -> Evaluation:
        return evaluate_subject(self, subject, year)


class Catalog:
    """All loaded program documents."""

    def __init__(self, docs: Iterable[ProgramDef]) -> None:
        by_key: dict[tuple[str, str, str], ProgramDef] = {}
        for d in docs:
            by_key[(d.id, d.area_code, d.version)] = d  # a later document replaces an earlier
        self.docs: tuple[ProgramDef, ...] = tuple(by_key.values())
        self._check()

    def _check(self) -> None:
        ids = {d.id for d in self.docs}
        for d in self.docs:
            if d.attaches_to is not None and d.attaches_to not in ids:
                raise DocumentError(d.source_file, None,
                                    f"attaches_to names an unknown program '{d.attaches_to}'")
            if d.attaches_to is not None and d.attaches_to == d.id:
                raise DocumentError(d.source_file, None, "a program cannot attach to itself")
        for j, d in enumerate(self.docs):
            for other in self.docs[:j]:
                if (other.id == d.id and other.area_code == d.area_code
                        and other.version != d.version and _overlap(d, other)):
                    raise DocumentError(
                        d.source_file, None,
                        f"effective period overlaps {other.rule_version} ({other.source_file}) "
                        "for the same program and area")

    @property
    def program_ids(self) -> list[str]:
        return sorted({d.id for d in self.docs})

    def exclusive_groups(self) -> dict[str, str]:
        """Programme → stacking group, for the programmes of which only the higher pays
        (``stacking: {group: …, rule: higher-pays}``): two of one group for one person are a
        duplicate claim. Programmes that stack are left out."""
        return {d.id: d.stacking_group for d in self.docs
                if d.stacking_group is not None and d.stacking_rule == "higher-pays"}

    def documents(self, program_id: str) -> list[ProgramDef]:
        return sorted((d for d in self.docs if d.id == program_id),
                      key=lambda d: (d.area_code, d.effective_from))

    def overlay(self, paths: Sequence[Path]) -> Catalog:
        """A catalog with extra documents (e.g. a proposed version for a what-if)."""
        extra = [load_document(p) for p in _expand(paths)]
        keep = [d for d in self.docs
                if not any(e.id == d.id and e.area_code == d.area_code and _overlap(e, d)
                           for e in extra)]
        return Catalog([*keep, *extra])

    # ------------------------------------------------------------------------ resolution

    def resolve(self, program_id: str, area_code: str, on: dt.date) -> Program:
        """The program in force on ``on`` for a subject registered in ``area_code``: the most
        specific area variant of the program, plus the local schemes attached to it."""
        main = self._pick(program_id, area_code, lambda d: d.in_force_on(on))
        if main is None:
            raise ProgramNotFound(f"no version of '{program_id}' is in force on {on} "
                                  f"for area {area_code}")
        comps = [Component(main, 0, main.area_code)]
        for slot, aid in enumerate(self._attached_ids(program_id), start=1):
            local = self._pick(aid, area_code, lambda d: d.in_force_on(on))
            if local is not None:
                comps.append(Component(local, slot, local.area_code))
        return Program(program_id, tuple(comps))

    def for_year(self, program_id: str, year: int) -> Program:
        """The program for set-based evaluation of one claim year over every area: each area
        variant (and attached local scheme) in force during the year, guarded by its area."""
        comps: list[Component] = []
        main_variants = self._variants(program_id, year)
        if not main_variants:
            raise ProgramNotFound(f"no version of '{program_id}' is in force in {year}")
        comps.extend(self._guarded(main_variants, 0))
        for slot, aid in enumerate(self._attached_ids(program_id), start=1):
            comps.extend(self._guarded(self._variants(aid, year), slot))
        return Program(program_id, tuple(comps))

    def _attached_ids(self, program_id: str) -> list[str]:
        return sorted({d.id for d in self.docs if d.attaches_to == program_id})

    def _pick(self, program_id: str, area_code: str,
              when: Callable[[ProgramDef], bool]) -> ProgramDef | None:
        cands = [d for d in self.docs
                 if d.id == program_id and d.applies_to_area(area_code) and when(d)]
        if not cands:
            return None
        return max(cands, key=lambda d: (len(d.area_code), d.effective_from))

    def _variants(self, program_id: str, year: int) -> list[ProgramDef]:
        """Per area, the version in force latest in the claim year."""
        best: dict[str, ProgramDef] = {}
        for d in self.docs:
            if d.id == program_id and d.overlaps_year(year):
                cur = best.get(d.area_code)
                if cur is None or d.effective_from > cur.effective_from:
                    best[d.area_code] = d
        return sorted(best.values(), key=lambda d: d.area_code)

    @staticmethod
    def _guarded(variants: list[ProgramDef], slot: int) -> list[Component]:
        out = []
        for v in variants:
            excluded = tuple(w.area_code for w in variants
                             if len(w.area_code) > len(v.area_code)
                             and w.area_code.startswith(v.area_code))
            out.append(Component(v, slot, v.area_code, excluded))
        return out


def _overlap(a: ProgramDef, b: ProgramDef) -> bool:
    a_end = a.effective_to or dt.date.max
    b_end = b.effective_to or dt.date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


def _expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            out.append(p)
    return out


def shipped_documents() -> list[Path]:
    root = resources.files("huimin.rules") / "programs"
    return sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith((".yaml", ".yml")))


def load_programs(extra_dir: str | Path | None = None) -> Catalog:
    """Load the shipped program documents, then those in ``$HUIMIN_PROGRAMS_DIR`` and in
    ``extra_dir``; a later document with the same id, area and version replaces an earlier."""
    paths = shipped_documents()
    env_dir = os.environ.get(ENV_PROGRAMS_DIR)
    for d in (env_dir, extra_dir):
        if d:
            directory = Path(d)
            if not directory.is_dir():
                raise DocumentError(str(directory), None, "programs directory does not exist")
            paths.extend(_expand([directory]))
    return Catalog(load_document(p) for p in paths)


__all__ = ["Catalog", "Component", "Evaluation", "Program", "load_programs"]
