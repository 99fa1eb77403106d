"""Payment data for the authorization matrix, built through actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from huimin.cases import actions as case_actions
from huimin.payments import actions as pay_actions
from huimin.registry import actions as registry_actions
from tests.conftest import VILLAGE_A, Personas, make_family


@dataclass
class PayWorld:
    cycle: Any  # the county's 2026 childcare cycle
    batch: Any  # exported, waiting for the bank's return
    draft: Any  # built, waiting for release
    failed_line: Any  # failed at the bank, not yet corrected
    new_account: Any  # an account the failed line may be corrected to
    recovery: Any = None  # part of a paid line to recover (payments.recoveries)
    write_off: Any = None  # a write-off of it asked for by finance, waiting for approval


def _approved(personas: Personas, program: Any, born: date, surname: str) -> Any:
    fam = make_family(personas.cadre_a, VILLAGE_A, born, surname=surname)
    case = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
        applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, case, approve=True)
    case_actions.county_confirm(personas.county, case, approve=True)
    return fam


def _batch(personas: Personas, program: Any) -> Any:
    cycle = pay_actions.build_cycle(personas.finance, program=program, claim_year=2026)
    return pay_actions.create_batch(personas.finance, cycle)


def payments_world(personas: Personas, program: Any, first_family: Any) -> PayWorld:
    """``first_family``'s approved case goes into the exported batch."""
    batch = _batch(personas, program)
    pay_actions.release_batch(personas.county, batch)
    pay_actions.export_batch(personas.finance, batch)
    fam = _approved(personas, program, date(2024, 4, 4), "吴")
    failing = _batch(personas, program)
    pay_actions.release_batch(personas.county, failing)
    pay_actions.export_batch(personas.finance, failing)
    line = failing.lines.get()
    pay_actions.import_return(personas.finance, failing,
                              pay_actions.sample_return(failing, {line.reference: "账户已销户"}))
    account = registry_actions.add_bank_account(
        personas.cadre_a, fam.mother, bank_name="惠来农商银行", account="6231000000000000777")
    _approved(personas, program, date(2024, 5, 5), "何")
    draft = _batch(personas, program)
    assert first_family is not None
    world = PayWorld(batch.cycle, batch, draft, line, account)
    world.recovery, world.write_off = _recovery(personas, program)
    return world


def _recovery(personas: Personas, program: Any) -> tuple[Any, Any]:
    """A case paid in its own batch, a part of it recoverable, a write-off requested."""
    from huimin.payments import recoveries

    fam = _approved(personas, program, date(2024, 6, 6), "罗")
    paid = _batch(personas, program)
    pay_actions.release_batch(personas.county, paid)
    pay_actions.export_batch(personas.finance, paid)
    pay_actions.import_return(personas.finance, paid, pay_actions.sample_return(paid))
    rec = recoveries.open_recovery(
        personas.county, case=paid.lines.get().case, amount_fen=30000,
        cause=f"{fam.child.name} 户籍迁出，7–12 月不应发放", period_start=date(2026, 7, 1),
        period_end=date(2026, 12, 31), event_ref="move:E1")
    request = recoveries.request_write_off(personas.finance, rec, amount_fen=100,
                                           on_date=date(2026, 6, 15), note="无力退缴")
    return rec, request
