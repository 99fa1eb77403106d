"""Every state change of a payment cycle, batch or line: atomic, audited, set-based.

The batch paths (freezing a cycle, building a batch, applying a return) run as a handful of
SQL statements over the whole set, never a query per row, inside one transaction: a process
killed half-way leaves nothing behind, and running the step again finishes it.

One module per step: ``cycles`` (冻结应发), ``batches`` (生成批次、检查、放行、导出、更换格式、
作废), ``returns`` (导入回盘、更正、复核), ``statements`` (导入对账单，帐实相符) and
``recoveries`` (追回: open, repay, offset, write off).
The names are re-exported here.
"""

from huimin.payments.actions._common import (
    T_ACCOUNT,
    T_AREA,
    T_AUDIT,
    T_CASE,
    T_ENT,
    T_FIX,
    T_LINE,
    T_PERSON,
    WAITING,
)
from huimin.payments.actions.batches import (
    cancel_batch,
    check_batch,
    create_batch,
    download_bank_file,
    download_count,
    export_batch,
    relayout_batch,
    release_batch,
    render_bank_file,
    returned_on,
)
from huimin.payments.actions.cycles import FIRST_CLAIM_YEAR, PERIOD_RE, build_cycle, check_cycle
from huimin.payments.actions.recoveries import (
    approve_write_off,
    decline_write_off,
    mark_overpaid,
    open_recovery,
    record_offset,
    record_repayment,
    request_write_off,
)
from huimin.payments.actions.returns import (
    RESULT_ACCOUNT,
    RESULT_ACTION,
    RESULT_TRANSITION,
    _check_return,
    _check_return_columns,
    _Checked,
    correct_line,
    import_return,
    recheck_batch,
    sample_return,
)
from huimin.payments.actions.statements import books_paid, import_statement, match_statement

__all__ = [
    "FIRST_CLAIM_YEAR",
    "PERIOD_RE",
    "RESULT_ACCOUNT",
    "RESULT_ACTION",
    "RESULT_TRANSITION",
    "T_ACCOUNT",
    "T_AREA",
    "T_AUDIT",
    "T_CASE",
    "T_ENT",
    "T_FIX",
    "T_LINE",
    "T_PERSON",
    "WAITING",
    "_Checked",
    "_check_return",
    "_check_return_columns",
    "approve_write_off",
    "books_paid",
    "build_cycle",
    "cancel_batch",
    "check_batch",
    "check_cycle",
    "correct_line",
    "create_batch",
    "decline_write_off",
    "download_bank_file",
    "download_count",
    "export_batch",
    "import_return",
    "import_statement",
    "mark_overpaid",
    "match_statement",
    "open_recovery",
    "recheck_batch",
    "record_offset",
    "record_repayment",
    "relayout_batch",
    "release_batch",
    "render_bank_file",
    "request_write_off",
    "returned_on",
    "sample_return",
]
