"""The catalog pages: search per content type, one item's numbers and similar items, hide and un-hide."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from musicbud.admin_base import PageAdmin, message_for_error, staff_id
from musicbud.errors import MusicBudError
from recommendations import catalog, hiding
from recommendations.domain import ContentType
from recommendations.models import CONTENT_TYPE_CHOICES, CatalogEntry

HIDDEN_CHOICES = [("", "hidden or not"), ("yes", "hidden only"), ("no", "visible only")]
MAX_SELECTED = 1_000


class CatalogSearchForm(forms.Form):
    type = forms.ChoiceField(choices=CONTENT_TYPE_CHOICES, required=False)
    q = forms.CharField(max_length=catalog.MAX_QUERY, required=False, label="Id or title")
    genre = forms.CharField(max_length=100, required=False)
    hidden = forms.ChoiceField(choices=HIDDEN_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, required=False)


class ItemIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        ids = [str(v).strip() for v in (value or []) if str(v).strip()]
        if len(ids) > MAX_SELECTED:
            raise forms.ValidationError(f"At most {MAX_SELECTED} items at once.")
        return ids


class HideForm(forms.Form):
    action = forms.ChoiceField(choices=[("hide", "Hide"), ("unhide", "Un-hide")])
    content_type = forms.ChoiceField(choices=CONTENT_TYPE_CHOICES)
    item_ids = ItemIdsField(error_messages={"required": "Select at least one item."})
    reason = forms.CharField(max_length=hiding.MAX_REASON, required=False)
    next = forms.CharField(required=False)


def _summary(result: hiding.HidingResult, action: str) -> str:
    done = "Hid" if action == "hide" else "Un-hid"
    already = "already hidden" if action == "hide" else "not hidden"
    text = f"{done} {len(result.changed)} {result.content_type} item(s)"
    if result.changed:
        text += ": " + ", ".join(result.changed[:10]) + (" ..." if len(result.changed) > 10 else "")
    return text + (f" ({len(result.unchanged)} {already})." if result.unchanged else ".")


@admin.register(CatalogEntry)
class CatalogAdmin(PageAdmin):
    def page_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.catalog_view), name=self.url_name("changelist")),
            path("hide/", view(self.hide_view), name=self.url_name("hide")),
            path("<str:content_type>/<str:item_id>/", view(self.item_view), name=self.url_name("item")),
        ]

    def catalog_view(self, request: HttpRequest) -> HttpResponse:
        """Search one type's catalog by id or title, filter by genre and hidden state; select items to hide."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CatalogSearchForm(request.GET)
        found: catalog.CatalogPage | None = None
        content_type = ContentType.MOVIES
        if form.is_valid():
            content_type = ContentType(form.cleaned_data["type"] or ContentType.MOVIES.value)
            try:
                found = catalog.search_catalog(
                    content_type=content_type, text=form.cleaned_data["q"], genre=form.cleaned_data["genre"],
                    hidden=form.cleaned_data["hidden"], page=form.cleaned_data["page"] or 1,
                )  # fmt: skip
            except MusicBudError as exc:
                messages.error(request, f"The catalog cannot be read: {message_for_error(exc)}")
            genre = form.cleaned_data["genre"].strip()
            if found is not None and genre and genre.casefold() not in {g.casefold() for g in found.genres}:
                form.add_error("genre", f"{content_type.value} have no genre {genre!r}.")
        query = request.GET.copy()
        query.pop("page", None)
        context = self.page_context(
            request, f"Catalog: {content_type.value}", form=form, found=found, content_type=content_type.value,
            types=[value for value, _ in CONTENT_TYPE_CHOICES], query=query.urlencode(),
            can_hide=self.has_change_permission(request),
        )  # fmt: skip
        return TemplateResponse(request, "admin/recommendations/catalog/search.html", context)

    def item_view(self, request: HttpRequest, content_type: str, item_id: str) -> HttpResponse:
        """One item: its interactions in the store, whether it is hidden (and by whom), its similar items."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        details: catalog.ItemDetails | None = None
        if content_type not in {ct.value for ct in ContentType}:
            messages.error(request, f"Unknown content type {content_type!r}.")
        else:
            try:
                details = async_to_sync(catalog.item_details)(content_type=ContentType(content_type), item_id=item_id)
            except MusicBudError as exc:
                messages.error(request, message_for_error(exc))
        context = self.page_context(
            request, f"{content_type} {item_id}", details=details, content_type=content_type, item_id=item_id,
            can_hide=self.has_change_permission(request),
        )  # fmt: skip
        status = 200 if details is not None else 404
        return TemplateResponse(request, "admin/recommendations/catalog/item.html", context, status=status)

    def hide_view(self, request: HttpRequest) -> HttpResponse:
        """POST: hide or un-hide the selected items of one type, at once, then back to where it was sent from."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(reverse(f"admin:{self.url_name('changelist')}"))
        form = HideForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
            return HttpResponseRedirect(self._back(form.data.get("next")))
        data = form.cleaned_data
        content_type, action = ContentType(data["content_type"]), data["action"]
        try:
            if action == "hide":
                result = async_to_sync(hiding.hide_items)(
                    content_type=content_type, item_ids=data["item_ids"], by_user_id=staff_id(request),
                    reason=data["reason"],
                )  # fmt: skip
            else:
                result = async_to_sync(hiding.unhide_items)(
                    content_type=content_type, item_ids=data["item_ids"], by_user_id=staff_id(request)
                )
        except MusicBudError as exc:
            messages.error(request, f"Nothing changed: {message_for_error(exc)}")
            return HttpResponseRedirect(self._back(data["next"]))
        messages.success(request, _summary(result, action))
        if not result.cache_invalidated:
            messages.warning(request, "The cache did not answer: cached lists may show the change late (up to 1 h).")
        return HttpResponseRedirect(self._back(data["next"]))

    def _back(self, target: str | None) -> str:
        # Only a path on this site: ``next`` comes from the form and must not send staff elsewhere.
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/"):
            return target
        return reverse(f"admin:{self.url_name('changelist')}")
