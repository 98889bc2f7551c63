"""Pieces every app's admin uses: read-only model admins, admins of pages of our own, status badges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils.html import format_html
from django.utils.safestring import SafeString

from musicbud.errors import MusicBudError


def badge(text: str, color: str) -> SafeString:
    return format_html(
        '<span class="analytics-badge" style="background:{};color:#fff;padding:1px 8px;border-radius:9px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        color,
        text,
    )


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only by the application: staff look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class PageAdmin(admin.ModelAdmin[Any]):
    """The admin of a proxy model whose pages are views of our own, not Django's add/change/delete forms.

    The model gives the index entry, the URL prefix and the permissions: ``view_<model>`` to look,
    ``change_<model>`` to act (hide an item, roll a model back). ``page_urls`` replaces Django's URLs; the
    first one must be named ``<app>_<model>_changelist``, the index links to it.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def page_urls(self) -> list[URLPattern]:
        raise NotImplementedError

    def get_urls(self) -> list[URLPattern]:
        return self.page_urls()

    def url_name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def page_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.opts, **extra}


def message_for_error(exc: MusicBudError) -> str:
    """A refusal with a stable code (bad input, a busy lock, a service down) as an admin message, never a 500."""
    return f"{exc.message} ({exc.code})"


def staff_id(request: HttpRequest) -> int:
    """The id of the logged-in staff member (``admin_view`` let only staff in); records name them by id."""
    pk = request.user.pk
    if pk is None:
        raise PermissionDenied
    return int(pk)
