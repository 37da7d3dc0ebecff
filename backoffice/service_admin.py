"""Admin building blocks shared by the apps whose admin writes through services (orders, baskets).

``ServiceAdmin``: the add/change view calls a service from ``save_model`` (or ``save_related``); a
refusal (a ``DomainError``) rolls the request back and the same POST is shown again with the refusal
as a form error: never a 500, never a half-saved row. ``ReadOnlyInline`` and ``ReadOnlyModelAdmin``
show records that only services write.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from backoffice.exceptions import DomainError
from backoffice.history_admin import HistoryAdmin

REFUSAL_ATTR = "_service_admin_refusal"


def add_refusal(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal on the form: on the fields it names, and above the form unless the
    message only repeats a field error (the services' ``"field: message"`` shape)."""
    details = error.details if isinstance(error.details, dict) else {}
    on_fields = [name for name in details if name in form.fields]
    for name in on_fields:
        problems = details[name]
        form.add_error(name, [str(p) for p in (problems if isinstance(problems, (list, tuple)) else [problems])])
    if not on_fields or not error.message.startswith(tuple(f"{name}:" for name in on_fields)):
        form.add_error(None, error.message)


class ServiceAdmin(HistoryAdmin):
    """History-tracked admin whose ``save_model`` calls a service.

    The add/change view runs in one transaction. When the service refuses, the transaction is rolled
    back and the same POST is shown again with the refusal as a form error, so nothing is saved.
    History pages are read-only: a revert would write around the services.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            if request.method != "POST" or hasattr(request, REFUSAL_ATTR):
                raise
            setattr(request, REFUSAL_ATTR, error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, REFUSAL_ATTR, None)
        if refusal is None:
            return form_class
        model_admin = self

        class RefusedForm(form_class):
            def clean(self):
                data = super().clean()
                model_admin.show_refusal(self, refusal)
                return data

        RefusedForm.__name__ = form_class.__name__
        return RefusedForm

    def show_refusal(self, form: forms.BaseForm, error: DomainError) -> None:
        """Put the service's refusal on the re-shown form (override to place a service's details better)."""
        add_refusal(form, error)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id]))


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Records without row history (events, A.9 records): written by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
