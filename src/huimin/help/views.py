"""帮助: the user manual of each role (docs/manual/<role>.md), rendered from Markdown.

The manual shows no personal data (its screenshots are of the synthetic demo county, with
masked ID numbers); it is still for signed-in users only, like every other page.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from markdown_it import MarkdownIt

from huimin.accounts.models import Role

MANUAL = Path(settings.BASE_DIR).parents[1] / "docs" / "manual"
#: the roles that have a manual, in the order of the index
ROLES = [Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER,
         Role.FINANCE_OFFICER, Role.AUDITOR, Role.ADMIN]
IMAGE = re.compile(r"[a-z0-9-]{1,60}\.png")
_md = MarkdownIt("commonmark", {"html": False})  # raw HTML in the text is shown as text


def render_manual(role: str) -> str:
    text = (MANUAL / f"{role}.md").read_text(encoding="utf-8")
    images = reverse("help:image", args=["x.png"])[: -len("x.png")]
    return str(_md.render(text)).replace('src="images/', f'src="{images}')


@login_required
def help_page(request: HttpRequest, role: str = "") -> HttpResponse:
    """The manual of ``role`` (default: the user's own)."""
    codes = [str(r) for r in ROLES]
    own = str(getattr(request.user, "role", ""))
    role = role or (own if own in codes else codes[0])
    if role not in codes:
        raise Http404("没有该角色的操作手册")
    return render(request, "help/page.html", {
        "body": render_manual(role), "role": role,
        "manuals": [(str(r), Role(r).label) for r in ROLES]})


@login_required
def image(request: HttpRequest, name: str) -> FileResponse:
    if not IMAGE.fullmatch(name) or not (MANUAL / "images" / name).is_file():
        raise Http404("没有该图片")
    return FileResponse((MANUAL / "images" / name).open("rb"), content_type="image/png")
