"""API: source systems post events with a feed token; users list files and effects and
confirm or dismiss effects (session login, like the rest of the API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.security import HttpBearer

from huimin.accounts.access import require_role
from huimin.api_params import Id, Page, keyset_page
from huimin.api_params import note as note_text
from huimin.audit.events import record_reads
from huimin.verification import apply, formats, ingest, tokens
from huimin.verification.models import Effect, EffectStatus, FeedFile, Kind

router = Router(tags=["feeds"])

Cell = Annotated[str | int | None, Field(description="单元格（文本或整数）")]


class FeedBearer(HttpBearer):
    """``Authorization: Bearer <token>`` of a live feed token (unknown or revoked: 401)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = tokens.authenticate(token)
        if found is not None:
            request.feed_token = found  # type: ignore[attr-defined]
        return found


class FeedEventsIn(Schema):
    kind: Literal["death", "move", "birth", "disability"]
    events: Annotated[list[dict[str, Cell]], Field(min_length=1,
                                                   max_length=formats.API_MAX_EVENTS)]


class FeedSummaryOut(Schema):
    file_id: int
    rows_read: int
    matched: int
    unmatched: int
    quarantined: int
    duplicates: int
    effects_proposed: int


class FeedFileOut(Schema):
    id: int
    kind: str
    source: str
    name: str
    received_at: datetime
    rows_read: int
    matched: int
    unmatched: int
    quarantined: int
    duplicates: int
    effects_proposed: int


class FeedEffectOut(Schema):
    id: int
    event_kind: str
    kind: str
    status: str
    case_id: int | None
    program: str | None
    claim_year: int | None
    from_date: date | None
    old_amount_fen: int
    new_amount_fen: int
    summary: str


class FeedDecisionIn(Schema):
    note: Annotated[str, note_text(500)] = ""


def _summary(feed: FeedFile) -> FeedSummaryOut:
    return FeedSummaryOut(file_id=feed.pk, rows_read=feed.rows_read, matched=feed.matched,
                      unmatched=feed.unmatched, quarantined=feed.quarantined,
                      duplicates=feed.duplicates, effects_proposed=feed.effects_proposed)


def effect_out(e: Effect) -> FeedEffectOut:
    return FeedEffectOut(id=e.pk, event_kind=e.event_kind, kind=e.kind, status=e.status,
                     case_id=e.case_id, program=e.program.code if e.program else None,
                     claim_year=e.claim_year, from_date=e.from_date,
                     old_amount_fen=e.old_amount_fen, new_amount_fen=e.new_amount_fen,
                     summary=e.summary)


@router.post("/feeds/events", response=FeedSummaryOut, auth=FeedBearer())
def post_events(request: HttpRequest, payload: FeedEventsIn) -> FeedSummaryOut:
    """A source system's events (the columns of docs/feeds.md as keys), matched only within
    the token's area."""
    token = request.feed_token  # type: ignore[attr-defined]
    summary = ingest.ingest_events(token, payload.kind, [dict(e) for e in payload.events])
    return _summary(summary.file)


@router.get("/feeds/files", response=list[FeedFileOut])
def list_files(request: HttpRequest, response: HttpResponse,
               page: Query[Page]) -> list[FeedFileOut]:
    from huimin.verification.views import files_for

    qs = keyset_page(request, response, files_for(request.user).order_by("-received_at", "-id"),
                     page)
    return [FeedFileOut(id=f.pk, kind=f.kind, source=f.source, name=f.name,
                    received_at=f.received_at, rows_read=f.rows_read, matched=f.matched,
                    unmatched=f.unmatched, quarantined=f.quarantined, duplicates=f.duplicates,
                    effects_proposed=f.effects_proposed) for f in qs]


@router.get("/feeds/effects", response=list[FeedEffectOut])
def list_effects(request: HttpRequest, response: HttpResponse, page: Query[Page],
                 status: EffectStatus | None = None) -> list[FeedEffectOut]:
    qs = apply.effects_for(request.user).order_by("id")
    if status is not None:
        qs = qs.filter(status=status)
    rows = keyset_page(request, response, qs, page)
    record_reads(request.user, "person.list", [e.person for e in rows], via="api_feeds")
    return [effect_out(e) for e in rows]


@router.post("/feeds/effects/{effect_id}/confirm", response=FeedEffectOut)
def confirm_effect(request: HttpRequest, effect_id: Id, payload: FeedDecisionIn) -> FeedEffectOut:
    effect = apply.get_effect_for_user(request.user, effect_id)
    require_role(request.user, apply.CONFIRM_ROLES)
    done = apply.confirm(request.user, [effect], note=payload.note)
    return effect_out(done[0])


@router.post("/feeds/effects/{effect_id}/dismiss", response=FeedEffectOut)
def dismiss_effect(request: HttpRequest, effect_id: Id, payload: FeedDecisionIn) -> FeedEffectOut:
    effect = apply.get_effect_for_user(request.user, effect_id)
    require_role(request.user, apply.CONFIRM_ROLES)
    return effect_out(apply.dismiss(request.user, effect, note=payload.note))


__all__ = ["Kind", "router"]
