"""Pieces every app's admin uses: read-only model admins and status badges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString


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
