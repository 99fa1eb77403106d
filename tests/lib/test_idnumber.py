from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huimin.lib import idnumber

STANDARD = ["11010519491231002X", "440524188001010014"]
ALPHABET = "0123456789X"


@pytest.mark.parametrize("value", STANDARD)
def test_standard_examples_are_valid(value: str) -> None:
    parsed = idnumber.parse(value)
    assert parsed.value == value
    assert parsed.birth_date == date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def test_standard_example_fields() -> None:
    a = idnumber.parse("11010519491231002X")
    assert (a.address_code, a.birth_date, a.sex) == ("110105", date(1949, 12, 31), "F")
    b = idnumber.parse("440524188001010014")
    assert (b.address_code, b.birth_date, b.sex) == ("440524", date(1880, 1, 1), "M")


@pytest.mark.parametrize("value", STANDARD)
def test_every_single_character_change_is_refused(value: str) -> None:
    tried = 0
    for pos in range(18):
        for ch in ALPHABET:
            if ch == value[pos] or (ch == "X" and pos < 17):
                continue
            changed = value[:pos] + ch + value[pos + 1:]
            with pytest.raises(idnumber.InvalidIdNumber):
                idnumber.parse(changed)
            tried += 1
    assert tried == 17 * 9 + 10


def test_lower_case_x_and_blanks_are_normalized() -> None:
    assert idnumber.parse(" 11010519491231002x ").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "为空"),
        ("1101051949123100", "长度应为 18 位，实为 16 位"),
        ("11010519491231002Y", "末位须为数字或 X"),
        ("1101051949X231002X", "前 17 位须为数字"),
        ("110105194902300021", "出生日期 19490230 不是有效日期"),
        ("110105194912310021", "校验码错误：应为 X，实为 1"),
    ],
)
def test_reasons(value: str, reason: str) -> None:
    with pytest.raises(idnumber.InvalidIdNumber) as info:
        idnumber.parse(value)
    assert reason in info.value.reason


def test_future_birth_date_refused() -> None:
    value = idnumber.make("445224", date(2030, 1, 1), 1)
    with pytest.raises(idnumber.InvalidIdNumber, match="晚于今天"):
        idnumber.parse(value, today=date(2026, 11, 23))


def test_consistency_with_recorded_birth_date_and_sex() -> None:
    parsed = idnumber.parse("11010519491231002X")
    idnumber.validate_against(parsed, birth_date=date(1949, 12, 31), sex="F")
    with pytest.raises(idnumber.InvalidIdNumber, match="出生日期"):
        idnumber.validate_against(parsed, birth_date=date(1949, 12, 30), sex="F")
    with pytest.raises(idnumber.InvalidIdNumber, match="性别"):
        idnumber.validate_against(parsed, birth_date=None, sex="M")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 1)),
       st.integers(0, 999))
def test_make_round_trips(born: date, seq: int) -> None:
    value = idnumber.make("445224", born, seq)
    parsed = idnumber.parse(value)
    assert parsed.birth_date == born
    assert parsed.sequence == seq
    assert parsed.sex == ("M" if seq % 2 else "F")


def test_upgrade15_standard_example() -> None:
    # 110105491231002 is the 15-digit form of the standard's 11010519491231002X
    assert idnumber.upgrade15("110105491231002") == "11010519491231002X"
    assert idnumber.upgrade15(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(("raw", "reason"), [
    ("11010549123100", "长度应为 15 或 18 位"),
    ("11010549123100A", "全为数字"),
    ("110105491331002", "不是有效日期"),
])
def test_upgrade15_refuses(raw: str, reason: str) -> None:
    with pytest.raises(idnumber.InvalidIdNumber, match=reason):
        idnumber.upgrade15(raw)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
       st.integers(0, 999))
def test_upgrade15_round_trip(born: date, seq: int) -> None:
    full = idnumber.make("445224", born, seq)
    short = full[:6] + full[8:17]
    assert idnumber.upgrade15(short) == full
    assert idnumber.parse(idnumber.upgrade15(short)).birth_date == born
