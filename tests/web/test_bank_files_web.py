"""The batch page's bank-file steps through the web: the export check, another layout,
cancel, the statement, the confirmed re-download and the roster PDF (read back as text)."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.payments import actions as pay
from huimin.payments import batch_views
from huimin.payments.models import BankStatement, BatchState, PaymentBatch
from tests.conftest import Personas, artifacts_dir
from tests.web.test_bank_returns import RETURNS
from tests.web.test_payments import login
from tests.web.test_stuck_batches import _returned, released_anyway, stuck

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
STATEMENTS = RETURNS.parent / "statements"


def upload(data: bytes, name: str = "st.csv") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def pdf_text(data: bytes, tmp_path: Any) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_the_batch_page_lists_every_line_that_cannot_be_written(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    page = login(personas.county).get(reverse("payments:detail", args=[batch.pk]))
    html = page.content.decode()
    assert 'data-testid="check"' in html and "导出前检查：2 处无法按" in html
    assert f"{batch.number}-000001「𠮷秀英」中的「𠮷」" in html
    assert f"{batch.number}-000003「陈䶮」" in html
    assert 'data-testid="cancel"' in html and 'data-testid="relayout"' not in html
    resp = login(personas.county).post(reverse("payments:release", args=[batch.pk]))
    assert resp.status_code == 400
    assert "不能放行" in resp.content.decode() and 'data-testid="rejected"' in resp.content.decode()
    batch.refresh_from_db()
    assert batch.state == BatchState.DRAFT


def test_export_of_a_batch_released_before_the_check_lists_the_lines(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    released_anyway(personas, batch)
    resp = login(personas.finance).post(reverse("payments:export", args=[batch.pk]))
    assert resp.status_code == 400 and "不能导出" in resp.content.decode()
    assert PaymentBatch.objects.get(pk=batch.pk).state == BatchState.RELEASED


def test_relayout_through_the_page(personas: Personas) -> None:
    batch, _cases = stuck(personas, layout="standard-csv")
    client = login(personas.finance)
    url = reverse("payments:relayout", args=[batch.pk])
    for outsider in (personas.finance_b, personas.county_b):  # another county: not found
        assert login(outsider).post(url, {"layout": "abc-xlsx", "note": "x"}).status_code == 404
    assert login(personas.auditor).post(url, {"layout": "abc-xlsx",
                                              "note": "x"}).status_code == 403
    assert PaymentBatch.objects.get(pk=batch.pk).layout == "standard-csv"
    resp = client.post(url, {"layout": "rcc-gbk-csv", "note": "试试"})
    assert resp.status_code == 400 and "仍有 2 处无法写出" in resp.content.decode()
    resp = client.post(url, {"layout": "abc-xlsx", "note": ""}, follow=True)
    assert "更换说明" in resp.content.decode()
    resp = client.post(url, {"layout": "abc-xlsx", "note": "改用农行"}, follow=True)
    assert "已改为「农业银行批量代付格式（XLSX）」" in resp.content.decode()
    assert PaymentBatch.objects.get(pk=batch.pk).layout == "abc-xlsx"


def test_cancel_through_the_page(personas: Personas) -> None:
    batch, _cases = stuck(personas)
    url = reverse("payments:cancel", args=[batch.pk])
    assert login(personas.auditor).post(url, {"reason": "x"}).status_code == 403
    assert login(personas.county_b).post(url, {"reason": "x"}).status_code == 404
    resp = login(personas.finance).post(url, {"reason": ""}, follow=True)
    assert "作废原因" in resp.content.decode()
    resp = login(personas.finance).post(url, {"reason": "生僻字无法导出"}, follow=True)
    html = resp.content.decode()
    assert "已作废：3 笔移出" in html and 'data-testid="cancelled"' in html
    assert 'data-testid="roster"' not in html and 'data-testid="download"' not in html
    assert PaymentBatch.objects.get(pk=batch.pk).state == BatchState.CANCELLED
    resp = login(personas.finance).get(reverse("payments:roster", args=[batch.pk]), follow=True)
    assert "已作废，没有花名册" in resp.content.decode()


def test_statement_through_the_page(personas: Personas) -> None:
    batch, _data = _returned(personas)
    url = reverse("payments:statement", args=[batch.pk])
    client = login(personas.finance)
    assert "对账单文件：请选择文件" in client.post(url, follow=True).content.decode()
    resp = client.post(url, {"file": upload(b"x,y\n")})
    assert resp.status_code == 400 and "对账单表头不符" in resp.content.decode()
    header = "交易日期,流水号,对方账号,借方金额,贷方金额,摘要\n"
    resp = client.post(url, {"file": upload(header.encode())}, follow=True)
    html = resp.content.decode()
    assert "帐实不符" in html and "对账单没有这笔支出" in html
    assert 'data-testid="statement-result"' in html
    line = batch.lines.get()
    good = header + f"2026-06-16,{line.reference},,{line.amount_fen / 100:.2f},,代发\n"
    resp = client.post(url, {"file": upload(good.encode())}, follow=True)
    assert "帐实相符（本批次 1 笔）" in resp.content.decode()
    assert BankStatement.objects.filter(batch=batch).count() == 2
    assert login(personas.county).post(url, {"file": upload(good.encode())}).status_code == 403
    assert login(personas.finance_b).post(url, {"file": upload(good.encode())}).status_code == 404
    # a batch not yet sent: the form is not offered, and a post is refused
    draft, _cases = stuck(personas, layout="standard-csv")
    resp = client.post(reverse("payments:statement", args=[draft.pk]),
                       {"file": upload(good.encode())}, follow=True)
    assert "尚未送银行" in resp.content.decode()
    assert 'data-testid="statement"' not in client.get(
        reverse("payments:detail", args=[draft.pk])).content.decode()


def test_a_returned_batch_asks_before_the_file_is_handed_out(personas: Personas) -> None:
    batch, data = _returned(personas)
    client = login(personas.finance)
    url = reverse("payments:download", args=[batch.pk])
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="returned-warning"' in html
    assert "本批次已于 <strong>2026-06-18</strong> 回盘" in html
    assert not AuditEvent.objects.filter(action="batch.download").exists()
    resp = client.get(url + "?confirm=returned")
    assert resp.status_code == 200 and resp.content == data
    assert AuditEvent.objects.get(action="batch.download").data["after_return"] is True
    assert "此前已再次下载 1 次" in client.get(url).content.decode()
    assert login(personas.county).get(url + "?confirm=returned").status_code == 403
    assert login(personas.finance_b).get(url + "?confirm=returned").status_code == 404


def test_the_roster_pdf_reads_as_a_signed_roster(personas: Personas, tmp_path: Any) -> None:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        batch, _data = _returned(personas)
        resp = login(personas.county).get(reverse("payments:roster", args=[batch.pk]))
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    text = pdf_text(resp.content, tmp_path)
    line = batch.lines.get()
    for words in ("育儿补贴发放花名册", batch.number, "林秀兰", line.account_masked,
                  f"{line.amount_fen // 100:,}.00", "已支付", "批次汇总", "制表人",
                  "审核人", "负责人", "日期", str(personas.finance), str(personas.county)):
        assert words in text, words
    event = AuditEvent.objects.get(action="batch.roster")
    assert event.data["lines"] == 1 and event.actor_id == personas.county.pk
    # the full account number never appears beside its mask
    from huimin.registry.crypto import box

    assert box().unseal(line.bank_account.account_sealed) not in text
    (artifacts_dir() / "roster.pdf").write_bytes(resp.content)  # to look at as PNG
    assert login(personas.auditor).get(
        reverse("payments:roster", args=[batch.pk])).status_code == 403
    assert login(personas.county_b).get(
        reverse("payments:roster", args=[batch.pk])).status_code == 404


def test_a_roster_too_long_to_print_is_refused(personas: Personas,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    batch, _data = _returned(personas)
    monkeypatch.setattr(batch_views, "ROSTER_MAX_LINES", 0)
    resp = login(personas.finance).get(reverse("payments:roster", args=[batch.pk]),
                                       follow=True)
    assert "超过花名册打印上限 0 笔" in resp.content.decode()
    assert not AuditEvent.objects.filter(action="batch.roster").exists()


def test_the_batch_page_shows_a_statement_that_disagrees(personas: Personas) -> None:
    """Another batch's statement: the paid line is missing from it, named on the page."""
    batch, _data = _returned(personas)
    st = pay.import_statement(personas.finance, batch,
                              (STATEMENTS / "standard-csv.csv").read_bytes())
    html = login(personas.auditor).get(
        reverse("payments:detail", args=[batch.pk])).content.decode()
    assert "帐实不符" in html and f"{batch.number}-000001" in html and not st.agrees


def test_the_api_download_of_a_returned_batch_needs_the_confirmation(personas: Personas) -> None:
    batch, data = _returned(personas)
    client = login(personas.finance)
    url = f"/api/batches/{batch.pk}/bank-file"
    refused = client.get(url)
    assert refused.status_code == 409 and "已于 2026-06-18 回盘" in refused.json()["detail"]
    assert client.get(url + "?confirm_returned=true").content == data
