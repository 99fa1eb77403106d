"""A4 PDF documents (notices, decision letters) with embedded Chinese fonts."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    html = render_to_string(template, {**context, "pdf": True})
    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)
