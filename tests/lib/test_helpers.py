import hashlib
import hmac
from datetime import date

import pytest

from huimin.lib import calendar, divisions, masking, money
from huimin.lib.secrets import SecretBox


def test_division_levels_and_containment() -> None:
    assert divisions.level_of("445224100201") is divisions.Level.VILLAGE
    assert divisions.level_of("445224100000") is divisions.Level.TOWNSHIP
    assert divisions.level_of("445224") is divisions.Level.COUNTY
    assert divisions.level_of("4452") is divisions.Level.PREFECTURE
    assert divisions.level_of("44") is divisions.Level.PROVINCE
    assert divisions.contains("445224000000", "445224100201")
    assert not divisions.contains("445224100000", "445224110202")
    assert divisions.parent_code("445224100201") == "445224100000"
    assert divisions.parent_code("445224100000") == "445224000000"
    assert divisions.parent_code("440000000000") is None
    assert divisions.township_kind("445224100000") == "镇"
    assert divisions.township_kind("445224001000") == "街道"
    assert divisions.village_kind("445224100201") == "村委会"
    assert divisions.village_kind("445224100001") == "居委会"
    with pytest.raises(divisions.InvalidDivisionCode):
        divisions.normalize("44522")


def test_money() -> None:
    assert money.yuan_to_fen("300") == 30000
    assert money.yuan_to_fen("300.5") == 30050
    assert money.yuan_to_fen("10,800.00") == 1080000
    assert money.fen_to_yuan(30050) == "300.50"
    assert money.fen_to_yuan(-5) == "-0.05"
    assert money.format_yuan(1080000) == "10,800.00 元"
    for bad in ("3.001", "abc", "", "1e3"):
        with pytest.raises(money.InvalidAmount):
            money.yuan_to_fen(bad)


def test_masking_defaults() -> None:
    assert masking.mask_name("张三丰") == "张**"
    assert masking.mask_name("李四") == "李*"
    # the middle 16 are address code, birth date and sequence: none of them visible
    assert masking.mask_id_number("11010519491231002X") == "1****************X"
    assert masking.mask_id_number("11010519491231002X", 6, 4) == "110105********002X"
    assert masking.mask_id_number("12", 1, 1) == "**"
    assert masking.mask_account("6228480012345678901") == "***************8901"
    assert masking.mask_phone("13812345678") == "138****5678"


def test_age_label_never_gives_the_day() -> None:
    from datetime import date

    on = date(2026, 6, 15)
    assert masking.age_label(date(1990, 3, 4), on) == "36 岁"
    assert masking.age_label(date(1990, 6, 16), on) == "35 岁"  # a day before the birthday
    assert masking.age_label(date(2025, 3, 3), on) == "1 岁 3 个月"
    assert masking.age_label(date(2024, 6, 15), on) == "2 岁"
    assert masking.age_label(date(2026, 1, 20), on) == "4 个月"
    assert masking.age_label(date(2026, 6, 1), on) == "不满 1 个月"
    assert masking.age_label(date(2026, 7, 1), on) == "未出生"
    assert masking.age_label(None, on) == ""
    # every birth date of a month (or a year, from 3 on) gives the same label
    assert len({masking.age_label(date(2025, 2, d), date(2026, 6, 1)) for d in range(2, 29)}) == 1


def test_secret_box_seals_files_bound_to_their_name() -> None:
    from cryptography.exceptions import InvalidTag

    box = SecretBox("a-sufficiently-long-secret")
    blob = box.seal_bytes(b"\x89PNG scan of an ID card", "case-document:a.png")
    assert b"scan of an ID card" not in blob
    assert box.unseal_bytes(blob, "case-document:a.png") == b"\x89PNG scan of an ID card"
    with pytest.raises(InvalidTag):
        box.unseal_bytes(blob, "case-document:b.png")
    with pytest.raises(InvalidTag):
        SecretBox("another-long-secret-value").unseal_bytes(blob, "case-document:a.png")


def test_secret_box_round_trip_and_keyed_hash() -> None:
    box = SecretBox("a-sufficiently-long-secret")
    sealed = box.seal("11010519491231002X")
    assert "1101051949" not in sealed
    assert box.unseal(sealed) == "11010519491231002X"
    assert box.seal("x" * 5) != box.seal("x" * 5)  # fresh nonce each time
    assert box.keyed_hash("a") == box.keyed_hash("a")
    assert box.keyed_hash("a") != SecretBox("another-long-secret-value").keyed_hash("a")
    # the stored look-up hashes are plain HMAC-SHA256 under the derived key: they must stay so
    key = hashlib.sha256(b"huimin-mac:a-sufficiently-long-secret").digest()
    for value in ("a", "acct:6228480012345678901", "id:11010519491231002X", "林" * 40, ""):
        assert box.keyed_hash(value) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(ValueError):
        SecretBox("short")


def test_working_days_skip_holidays_and_count_makeup_days() -> None:
    # 2025-10-01..08 National Day holiday; 2025-09-28 (Sunday) and 10-11 (Saturday) are workdays.
    assert not calendar.is_working_day(date(2025, 10, 1))
    assert calendar.is_working_day(date(2025, 9, 28))
    assert calendar.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert calendar.working_days_between(date(2025, 9, 26), date(2025, 9, 30)) == 3
