"""一户一档 as a PDF: the household's members and its whole timeline, printed and signed for
the paper file a township keeps."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from huimin.accounts.access import get_household_for_user
from huimin.audit.events import event
from huimin.audit.models import AuditEvent
from huimin.cases.letters import offices


@login_required
@require_GET
def household_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    from huimin.cases.pdf import render_pdf
    from huimin.cases.timeline import household_timeline

    household = get_household_for_user(request.user, pk)
    members = list(household.members.select_related("area").order_by("birth_date", "id"))
    AuditEvent.objects.bulk_create([
        event(request.user, "person.view", p, person_id=p.pk, area_code=p.area.code,
              via="household-pdf") for p in members])
    pdf = render_pdf("registry/household_print.html", {
        "household": household, "members": members,
        "timeline": household_timeline(household, members),
        "offices": offices(household.area), "printed_at": timezone.localtime(),
        "printed_by": request.user,
    })
    resp = HttpResponse(pdf, content_type="application/pdf")
    name = quote(f"一户一档-{household.number}.pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{name}"
    return resp
