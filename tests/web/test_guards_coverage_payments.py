"""Refusals of ``huimin.payments`` that the other guard tests do not reach: a closed cycle, a
batch or line from before cycles, return files that the column-wise check passes to the row
by row check, a file with more errors than are shown, a recovery whose subject left the
household, an offset against another county's entitlement, a purpose outside GBK.

Each refused call asserts its Chinese message and that nothing changed (``refused``).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from huimin.cases import actions as case_actions
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden
from huimin.lib.sheets import MAX_ERRORS
from huimin.payments import actions as pay
from huimin.payments import bankfile
from huimin.payments import recoveries as rec_actions
from huimin.payments.actions import returns
from huimin.payments.models import (
    BatchState,
    CycleState,
    Entitlement,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
)
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from tests.conftest import VILLAGE_C, Personas, make_family
from tests.web.test_guards_payments_more import frozen_time, refused  # noqa: F401
from tests.web.test_payments import cycle_of, exported, world
from tests.web.test_recoveries import opened, paid_world

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 1)


def test_a_closed_cycle_takes_no_batch_and_is_not_built_again(personas: Personas) -> None:
    world(personas, 1)
    cycle = cycle_of(personas)
    PaymentCycle.objects.filter(pk=cycle.pk).update(state=CycleState.CLOSED)
    refused(Conflict, f"发放周期 {cycle.number} 已结束",
            lambda: pay.create_batch(personas.finance, cycle))
    refused(Conflict, f"发放周期 {cycle.number} 已结束", lambda: cycle_of(personas))


def test_a_batch_and_a_line_from_before_cycles_are_not_corrected(personas: Personas) -> None:
    w = world(personas, 1)
    batch = exported(personas)
    line = batch.lines.get()
    pay.import_return(personas.finance, batch,
                      pay.sample_return(batch, {line.reference: "账户已销户"}))
    account = registry_actions.add_bank_account(
        personas.cadre_a, w.families[0].mother, bank_name="惠来农商银行",
        account="6231000000000000777")
    PaymentLine.objects.filter(pk=line.pk).update(entitlement=None)
    refused(Conflict, f"明细 {line.reference} 不属于任何发放周期，不能更正",
            lambda: pay.correct_line(personas.finance, line, bank_account=account,
                                     note="已电话核实"))
    PaymentBatch.objects.filter(pk=batch.pk).update(cycle=None)
    refused(Conflict, f"批次 {batch.number} 不属于任何发放周期",
            lambda: pay.recheck_batch(personas.finance, batch, note="银行系统故障"))


def _lines(batch: PaymentBatch) -> list[bankfile.ReturnLine]:
    layout = bankfile.get_layout(batch.layout)
    return bankfile.parse_return(layout, pay.sample_return(batch)).lines


def _file(batch: PaymentBatch, lines: list[bankfile.ReturnLine]) -> bytes:
    """A well-formed return of ``lines``, its control row right: only the lines are wrong."""
    return bankfile.render_return(bankfile.get_layout(batch.layout), [
        (r.reference, r.account, r.amount_fen, r.result, r.reason) for r in lines])


def test_well_formed_returns_naming_the_wrong_lines_are_refused_whole(
    personas: Personas,
) -> None:
    world(personas, 2)
    batch = exported(personas)
    a, b = _lines(batch)

    def bad(*lines: bankfile.ReturnLine) -> Any:
        return lambda: pay.import_return(personas.finance, batch, _file(batch, list(lines)))

    other = a._replace(reference="PB2099-000001")
    refused(FileRejected, "整个文件未导入", bad(other, b))
    with pytest.raises(FileRejected) as exc:
        bad(other, b)()
    assert [e.reason for e in exc.value.errors] == [
        f"PB2099-000001 不属于批次 {batch.number}"]
    with pytest.raises(FileRejected) as exc:
        bad(a, a)()
    assert [e.reason for e in exc.value.errors] == [f"{a.reference} 在文件中重复"]
    stranger = b._replace(reference=f"{batch.number}-000009")
    refused(FileRejected, "整个文件未导入", bad(a, stranger))
    with pytest.raises(FileRejected) as exc:
        bad(a, stranger)()
    assert [e.reason for e in exc.value.errors] == [
        f"批次 {batch.number} 中没有 {batch.number}-000009"]
    refused(FileRejected, "整个文件未导入", bad())  # no detail row at all
    with pytest.raises(FileRejected) as exc:
        bad()()
    assert "回盘缺少 2 笔" in exc.value.errors[0].reason
    batch.refresh_from_db()
    assert batch.state == BatchState.EXPORTED


def test_a_return_with_more_errors_than_are_shown_stops_at_the_limit(
    personas: Personas,
) -> None:
    world(personas, 1)
    batch = exported(personas)
    (good,) = _lines(batch)
    parsed = bankfile.ParsedReturn(
        [good._replace(row=i + 2, reference=f"X-{i:06d}") for i in range(MAX_ERRORS + 50)],
        bankfile.Totals(0, 0, ""))
    with pytest.raises(FileRejected, match=r"仅显示前 500 条") as exc:
        returns._check_return(batch, parsed)
    assert len(exc.value.errors) == MAX_ERRORS
    assert exc.value.errors[-1].row == MAX_ERRORS + 1  # the rest was not looked at


def test_a_recovery_of_a_subject_without_household_has_nothing_to_offset(
    personas: Personas,
) -> None:
    p = paid_world(personas)
    registry_actions.remove_member(personas.cadre_a, p.family.child.household, p.family.child)
    rec = opened(personas, p)
    assert rec.household_id is None
    assert rec_actions.offset_targets(rec) == []
    ent = Entitlement.objects.get(case=p.other)
    refused(ActionError, "只能从同一户的后续应发中抵扣", lambda: rec_actions.record_offset(
        personas.finance, rec, amount_fen=100, on_date=DAY, entitlement=ent))


def test_an_offset_against_another_countys_entitlement_is_refused(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    fam = make_family(personas.cadre_c, VILLAGE_C, date(2024, 3, 3), surname="曾")
    case = case_actions.submit_application(
        personas.cadre_c, program=p.case.program, subject=fam.child, claim_year=2026,
        applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township_c, case, approve=True)
    case_actions.county_confirm(personas.county_b, case, approve=True)
    pay.build_cycle(personas.finance_b, program=p.case.program, claim_year=2026,
                    cut_off=date(2026, 6, 30))
    ent = Entitlement.objects.get(case=case)
    refused(Forbidden, "抵扣的应发不在您的管辖范围内", lambda: rec_actions.record_offset(
        personas.finance, rec, amount_fen=100, on_date=DAY, entitlement=ent))


def test_a_purpose_outside_gbk_is_refused_at_export_with_its_row(personas: Personas) -> None:
    w = world(personas, 1)
    Program.objects.filter(pk=w.cases[0].program_id).update(name="𠮷育儿补贴")
    batch = pay.create_batch(personas.finance, cycle_of(personas), layout="rcc-gbk-csv")
    pay.release_batch(personas.county, batch)  # the names are GBK: released
    refused(FileRejected, "第 2 行含 GBK 无法表示的字符「𠮷」，请改用 UTF-8 格式",
            lambda: pay.export_batch(personas.finance, batch))
    batch.refresh_from_db()
    assert batch.state == BatchState.RELEASED and batch.file_sha256 == ""


# The column-wise writers and the digest at their edges (no database needed).

def test_render_columns_of_no_line_is_render_of_no_line() -> None:
    layout = bankfile.get_layout("standard-csv")
    empty = pa.array([], pa.string())
    done = bankfile.render_columns(
        layout, number="PB1", seq=pa.array([], pa.int64()), payee_name=empty, account=empty,
        bank_name=empty, amount_fen=pa.array([], pa.int64()), purpose="2026年度育儿补贴",
        pay_date=DAY)
    assert done == bankfile.render(layout, [], DAY)
    assert done is not None and done[1].count == 0


def test_hashing_feeds_each_chunk_and_nothing_for_no_row() -> None:
    h = hashlib.sha256()
    bankfile._hash_lines(h, pa.chunked_array([pa.array(["a"]), pa.array([], pa.string()),
                                              pa.array(["b"])]), "\n")
    assert h.hexdigest() == hashlib.sha256(b"a\nb\n").hexdigest()
    sink = bytearray(b"head\n")
    bankfile._hash_lines(sink, pa.array([], pa.string()), "\r\n")
    assert sink == b"head\n"


def test_the_digest_is_the_same_a_chunk_at_a_time() -> None:
    rows = [[str(i), "x"] for i in range(bankfile._DIGEST_CHUNK)]
    d = bankfile._Digest()
    for row in rows:
        d.row(row)
    assert not d.pending  # flushed at the chunk; nothing left to flush at the end
    whole = "".join("\x1f".join(r) + "\n" for r in rows).encode()
    assert d.hexdigest() == hashlib.sha256(whole).hexdigest()
