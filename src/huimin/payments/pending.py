"""Bank-file work waiting for a user, for the home page's worklist (``payments/work.py``).

- ``unwritable_batches``: batches not yet exported whose bank file could not be written (a
  name outside GBK in a GBK layout): to write in another layout or cancel. For the finance
  officer and the county approver of the batch's area.
- ``disagreeing_statements``: batches whose latest bank statement (对账单) does not agree
  with the books. For the finance officer, the county approver and the auditor.

Read only; scoped by ``batches_for``.
"""

from __future__ import annotations

from typing import Any

from huimin.accounts.access import batches_for, user_can
from huimin.accounts.models import Role
from huimin.payments.actions.batches import NOT_SENT, check_batch
from huimin.payments.models import BankStatement, PaymentBatch

STUCK_ROLES = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER)
STATEMENT_ROLES = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER, Role.AUDITOR)


def unwritable_batches(user: Any) -> list[tuple[PaymentBatch, int]]:
    """(batch, number of lines its layout cannot write) for each such batch of the user's."""
    if not user_can(user, STUCK_ROLES):
        return []
    out = []
    for batch in batches_for(user).filter(state__in=NOT_SENT).order_by("id"):
        problems = len(check_batch(batch))
        if problems:
            out.append((batch, problems))
    return out


def disagreeing_statements(user: Any) -> list[BankStatement]:
    """The latest statement of each of the user's batches, where it does not agree."""
    if not user_can(user, STATEMENT_ROLES):
        return []
    latest: dict[int, BankStatement] = {}
    for st in (BankStatement.objects.filter(batch__in=batches_for(user))
               .select_related("batch").order_by("id")):
        latest[st.batch_id] = st
    return [st for st in latest.values() if not st.agrees]
