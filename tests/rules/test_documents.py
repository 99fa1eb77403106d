"""Program documents: the shipped ones load; malformed ones are refused with file, line and
reason; area variants and local schemes resolve as documented."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.rules import Catalog, DocumentError, ProgramNotFound, load_programs
from huimin.rules.catalog import shipped_documents
from huimin.rules.document import load_document

SHIPPED = Path(shipped_documents()[0]).parent
CHILDCARE = (SHIPPED / "childcare-subsidy.yaml").read_text(encoding="utf-8")
DATA = Path(__file__).parent / "data"


def test_shipped_programs_load(catalog: Catalog) -> None:
    assert {"childcare-subsidy", "rural-reward", "special-assistance", "panzhihua-childcare",
            "hohhot-birth-grant"} <= set(catalog.program_ids)
    rates = {d.version: d.params["monthly_rate_fen"] for d in catalog.documents("rural-reward")}
    assert rates == {"2004.1": 5_000, "2012.1": 8_000}


def test_api_resolve_and_evaluate(catalog: Catalog) -> None:
    prog = catalog.resolve("childcare-subsidy", area_code="445224100201", on=date(2025, 6, 1))
    ev = prog.evaluate({"person_id": "x", "birth_date": date(2023, 12, 10), "death_date": None,
                        "hukou_area_code": "445224100201", "hukou_type": "rural"}, year=2025)
    assert (ev.eligible, ev.months, ev.amount_fen) == (True, 12, 360_000)
    assert ev.rule_version == "childcare-subsidy@2025.1"
    assert ev.breakdown_zh == "12 个月 × 300 元 = 3600 元"
    assert ev.criteria[0].code == "born_in_scope"
    assert all(c.passed and c.detail_zh.startswith("符合") for c in ev.criteria)
    d = ev.to_dict()
    assert d["amount_yuan"] == "3600.00" and d["criteria"][0]["label_zh"]  # type: ignore[index]
    assert prog.name_zh == "育儿补贴" and prog.public_notice is False
    assert [(lv.level, lv.posting_days, lv.deadline_working_days) for lv in prog.review_chain] \
        == [("township", 0, 30), ("county", 0, 30)]


def test_explanation_of_a_refusal_names_the_facts(catalog: Catalog) -> None:
    prog = catalog.resolve("childcare-subsidy", area_code="445224100201", on=date(2025, 6, 1))
    ev = prog.evaluate({"person_id": "x", "birth_date": "2021-11-30",
                        "hukou_area_code": "445224100201", "hukou_type": "urban"}, year=2025)
    failed = [c for c in ev.criteria if not c.passed]
    assert ev.eligible is False and ev.amount_fen == 0
    assert failed[0].code == "born_in_scope"
    assert "出生日期：2021-11-30" in failed[0].detail_zh
    assert ev.reasons_zh[0] == "出生于 2022 年 1 月 1 日之前，2025 年 1 月 1 日时已满 3 周岁"


def test_rural_reward_review_chain_posts_at_every_level(catalog: Catalog) -> None:
    prog = catalog.resolve("rural-reward", area_code="445224100201", on=date(2025, 1, 1))
    assert prog.public_notice is True
    assert [(lv.level, lv.posting) for lv in prog.review_chain] == [
        ("village", True), ("township", True), ("county", True)]


def test_resolve_applies_area_overrides(catalog: Catalog) -> None:
    pzh = catalog.resolve("childcare-subsidy", area_code="510402001001", on=date(2025, 6, 1))
    assert [c.doc.id for c in pzh.components] == ["childcare-subsidy", "panzhihua-childcare"]
    hoh_before = catalog.resolve("childcare-subsidy", "150102001001", on=date(2025, 2, 1))
    hoh_after = catalog.resolve("childcare-subsidy", "150102001001", on=date(2025, 3, 1))
    assert len(hoh_before.components) == 1 and len(hoh_after.components) == 2
    with pytest.raises(ProgramNotFound):
        catalog.resolve("childcare-subsidy", "445224100201", on=date(2024, 12, 31))
    more = catalog.overlay([DATA])
    east = more.resolve("rural-reward", "510402001001", on=date(2025, 6, 1))
    west = more.resolve("rural-reward", "510411001001", on=date(2025, 6, 1))
    other = more.resolve("rural-reward", "445224100201", on=date(2025, 6, 1))
    assert east.main.params["monthly_rate_fen"] == 15_050
    assert west.main.params["monthly_rate_fen"] == 12_000
    assert other.main.version == "2012.1"


def test_programs_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sc.yaml").write_text((DATA / "rural-reward-sichuan.yaml").read_text("utf-8"),
                                      encoding="utf-8")
    monkeypatch.setenv("HUIMIN_PROGRAMS_DIR", str(tmp_path))
    cat = load_programs()
    assert "2024.1-sc" in {d.version for d in cat.documents("rural-reward")}


def _bad(tmp_path: Path, text: str) -> DocumentError:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert info.value.file == str(path)
    return info.value


def _line_of(text: str, needle: str) -> int:
    """The line of the last occurrence (a replaced line may repeat an earlier one)."""
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("when: birth_date >= earliest_birth", "when: birth_datum >= earliest_birth",
     "unknown column or parameter 'birth_datum'"),
    ("when: birth_date >= earliest_birth", "when: birth_date >= (SELECT 1)",
     "subqueries and statements are not allowed"),
    ("when: birth_date >= earliest_birth", "when: birth_date >= earliest_birth; DROP TABLE x",
     "exactly one expression"),
    ("when: birth_date >= earliest_birth", "when: UPPER(hukou_type) = 'RURAL'",
     "function UPPER is not allowed"),
    ("when: birth_date >= earliest_birth", "when: birth_date >= 2022",
     "cannot mix date and int"),
    ("when: birth_date >= earliest_birth", "when: YEAR(birth_date)",
     "must be of type bool"),
    ("when: birth_date >= earliest_birth", "when: birth_date >= DATE '2022-13-01'",
     "month must be in 1..12"),
    ("when: birth_date >= earliest_birth", "when: claim_year / 2 > 1",
     "division is not allowed"),
    ("when: birth_date >= earliest_birth", "when: birth_date >= (",
     "cannot parse expression"),
    ("  from: 2025-01-01", "  from: 2025/01/01", "not a date in YYYY-MM-DD format"),
    ("subject: child", "subject: household", "subject must be one of child, person, couple"),
    ("public_notice: false", "public_notice: false\nposting: 7", "unknown key 'posting'"),
    ("  monthly_rate_yuan: 300", "  monthly_rate_yuan: 300.5", "integers or decimal strings"),
    ("  - code: claim_year_in_scheme", "  - code: born_in_scope", "duplicate criterion code"),
])
def test_malformed_documents_are_refused_with_line(tmp_path: Path, old: str, new: str,
                                                   reason: str) -> None:
    assert old in CHILDCARE
    text = CHILDCARE.replace(old, new, 1)
    err = _bad(tmp_path, text)
    assert reason in err.reason
    assert err.line == _line_of(text, new.splitlines()[-1].strip())
    assert str(err).startswith(f"{tmp_path / 'bad.yaml'}:{err.line}: ")


def test_missing_key_and_bad_yaml(tmp_path: Path) -> None:
    err = _bad(tmp_path, CHILDCARE.replace("subject: child\n", ""))
    assert "lacks required key 'subject'" in err.reason
    err = _bad(tmp_path, "id: x\nnames: [unclosed\n")
    assert "not valid YAML" in err.reason and err.line is not None


def test_overlapping_versions_are_refused(tmp_path: Path) -> None:
    clash = CHILDCARE.replace('version: "2025.1"', 'version: "2025.2"')
    (tmp_path / "clash.yaml").write_text(clash, encoding="utf-8")
    with pytest.raises(DocumentError, match=r"overlaps childcare-subsidy@2025\.1"):
        load_programs(tmp_path)


def test_enrolment_is_read_and_checked(tmp_path: Path, catalog: Catalog) -> None:
    """``enrolment: automatic`` (免申即享) is what the feeds read to enrol a newborn."""
    enrolments = {d.id: d.enrolment for d in catalog.docs}
    assert enrolments["hohhot-birth-grant"] == "automatic"
    assert enrolments["childcare-subsidy"] == "application"
    hohhot = catalog.resolve("childcare-subsidy", area_code="150102001001", on=date(2026, 6, 1))
    assert [c.doc.enrolment for c in hohhot.components] == ["application", "automatic"]
    err = _bad(tmp_path, CHILDCARE.replace("enrolment: application", "enrolment: auto", 1))
    assert "enrolment" in err.reason and err.line == _line_of(CHILDCARE, "enrolment:")


def test_childcare_months_end_with_the_month_of_death(catalog: Catalog) -> None:
    prog = catalog.resolve("childcare-subsidy", area_code="445224100201", on=date(2026, 6, 1))
    base = {"person_id": "x", "hukou_area_code": "445224100201", "hukou_type": "rural"}

    def months(born: date, died: date | None, year: int) -> int:
        ev = prog.evaluate({**base, "birth_date": born, "death_date": died}, year=year)
        return ev.months if ev.eligible else 0

    assert months(date(2023, 12, 10), None, 2026) == 12
    assert months(date(2023, 12, 10), date(2026, 3, 5), 2026) == 3  # Jan–Mar
    assert months(date(2025, 11, 1), date(2026, 3, 5), 2025) == 5  # Nov–Mar of its first year
    assert months(date(2025, 11, 1), date(2026, 3, 5), 2026) == 0
    assert months(date(2025, 11, 1), date(2027, 1, 20), 2026) == 3  # Nov–Jan of its second
