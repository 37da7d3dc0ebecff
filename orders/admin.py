"""Admin for Authorized Participants, their agreements, Fund order terms, orders and A.9 records.

Display, filters, inlines and actions; every write goes through ``orders.services`` so the admin
and the API enforce the same rules. A refusal (a ``DomainError``) rolls the request back and is
shown on the form or as a message: never a 500, never a half-saved row.
"""

from __future__ import annotations

import datetime as dt
import mimetypes

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from backoffice.history_admin import HistoryAdmin
from backoffice.service_admin import ReadOnlyInline, ReadOnlyModelAdmin, ServiceAdmin

from backoffice import roles
from backoffice.exceptions import DomainError
from funds import business_calendar
from funds.admin import ReadOnlyAdmin
from orders import services
from orders.models import (
    AuthorizedParticipant,
    AuthorizedParticipantAgreement,
    AuthorizedParticipantHolding,
    AuthorizedParticipantUser,
    CashAnnouncement,
    CreationBasketRecord,
    CreationBasketRecordLine,
    FundOrderTerms,
    Order,
    OrderEvent,
)
from orders.records import records_csv
from orders.admin_webhooks import ParticipantWebhookAdminMixin
from orders.models import Dissemination, DisseminationAttempt, DisseminationFanOut


def _today() -> dt.date:
    """Today in New York: the business calendar's date, whatever the server's time zone."""
    return business_calendar.business_date(timezone.now())


def _et(instant: dt.datetime | None) -> str:
    return instant.astimezone(business_calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M:%S ET") if instant else "-"


# --- Authorized Participants ------------------------------------------------------------------


def _agreement_in_force_today():
    today = _today()
    return Exists(
        AuthorizedParticipantAgreement.objects.filter(participant=OuterRef("pk"), effective_from__lte=today)
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=today))
    )


class AgreementInForceFilter(admin.SimpleListFilter):
    title = "agreement in force today"
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(agreement_in_force=self.value() == "yes")
        return queryset


class AuthorizedParticipantForm(forms.ModelForm):
    """Readable messages for the model's check constraints; the service is the authority."""

    class Meta:
        model = AuthorizedParticipant
        fields = "__all__"

    def clean_fund_relationship(self):
        value = self.cleaned_data.get("fund_relationship")
        if value and value != AuthorizedParticipant.FundRelationship.NONE:
            raise forms.ValidationError(
                f"{AuthorizedParticipant.FundRelationship(value).label}: the Distributor, promoters and affiliated persons "
                "of a Fund may not be Authorized Participants."
            )
        return value

    def clean(self):
        data = super().clean()
        if data.get("nscc_process") and not data.get("nscc_member"):
            self.add_error("nscc_process", "The NSCC Process is open to NSCC members only.")
        if "nscc_process" in data and "dtc_process" in data and not (data["nscc_process"] or data["dtc_process"]):
            self.add_error(None, "An Authorized Participant needs at least one clearing process (NSCC or DTC).")
        return data


class ParticipantUserInline(ReadOnlyInline):
    model = AuthorizedParticipantUser
    fields = ["user", "user_active", "created_at"]
    verbose_name_plural = "AP users (bound to this AP only)"

    @admin.display(description="active", boolean=True)
    def user_active(self, obj):
        return obj.user.is_active


class ParticipantAgreementInline(ReadOnlyInline):
    model = AuthorizedParticipantAgreement
    fields = ["version", "signed_on", "effective_from", "terminated_on", "in_force_today", "retained_until"]
    ordering = ["-version"]

    @admin.display(description="in force today", boolean=True)
    def in_force_today(self, obj):
        return obj.in_force_on(_today())


@admin.register(AuthorizedParticipant)
class AuthorizedParticipantAdmin(ParticipantWebhookAdminMixin, ServiceAdmin):
    form = AuthorizedParticipantForm
    list_display = ["legal_name", "dtc_participant_number", "nscc_member", "processes", "status", "agreement_in_force_today"]
    list_filter = ["status", AgreementInForceFilter, "nscc_member", "nscc_process", "dtc_process"]
    search_fields = ["legal_name", "dtc_participant_number", "contact_name", "contact_email"]
    readonly_fields = ["created_at", "updated_at", "webhook"]
    fieldsets = [
        (None, {"fields": ["legal_name", "dtc_participant_number", "status"]}),
        ("Clearing", {"fields": ["nscc_member", "nscc_process", "dtc_process"]}),
        ("Relationship to the Funds", {
            "fields": ["fund_relationship"],
            "description": "The Distributor, promoters and affiliated persons of the Funds may not be Authorized Participants.",
        }),
        ("Contacts", {"fields": ["contact_name", "contact_email", "contact_phone", "operations_email"]}),
        ("Publications", {"fields": ["webhook"], "description": "Every Publication is POSTed to the webhook; set it on its own page."}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [ParticipantUserInline, ParticipantAgreementInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(agreement_in_force=_agreement_in_force_today())

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description="processes")
    def processes(self, obj):
        return ", ".join(name for name, on in (("NSCC", obj.nscc_process), ("DTC", obj.dtc_process)) if on) or "-"

    @admin.display(description="agreement in force today", boolean=True, ordering="agreement_in_force")
    def agreement_in_force_today(self, obj):
        return obj.agreement_in_force

    def save_model(self, request, obj, form, change):
        services.participant_save(actor=request.user, participant=obj)

    def has_delete_permission(self, request, obj=None):
        return False  # an AP is suspended or terminated, never deleted: its orders and agreements are records


class BindableUserField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        name = user.get_full_name()
        return f"{user.username} ({name}, {user.email})" if name else user.username


@admin.register(AuthorizedParticipantUser)
class AuthorizedParticipantUserAdmin(ServiceAdmin):
    list_display = ["user", "participant", "user_active", "created_at"]
    list_filter = ["participant"]
    search_fields = ["user__username", "user__email", "participant__legal_name", "participant__dtc_participant_number"]
    list_select_related = ["user", "participant"]
    fields = ["user", "participant"]

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else ["user", "participant", "created_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # Offer the users that can be bound; participant_user_bind refuses any other.
            kwargs["queryset"] = (
                get_user_model().objects.filter(ap_binding__isnull=True, is_superuser=False, is_active=True)
                .exclude(groups__name__in=roles.INTERNAL_ROLES).order_by("username")
            )
            kwargs["form_class"] = BindableUserField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="active", boolean=True, ordering="user__is_active")
    def user_active(self, obj):
        return obj.user.is_active

    def save_model(self, request, obj, form, change):
        binding = services.participant_user_bind(actor=request.user, user=form.cleaned_data["user"], participant=form.cleaned_data["participant"])
        obj.pk = binding.pk

    def has_change_permission(self, request, obj=None):
        # A binding is for good: a user acts for exactly one AP. Deactivate the user to end it.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


# --- Participant Agreements (condition A.9(a)) ------------------------------------------------


class AgreementForm(forms.ModelForm):
    class Meta:
        model = AuthorizedParticipantAgreement
        fields = ["participant", "version", "signed_on", "effective_from", "document", "terminated_on", "termination_reason"]

    def clean(self):
        data = super().clean()
        signed_on = data.get("signed_on", self.instance.signed_on if self.instance.pk else None)
        effective_from = data.get("effective_from", self.instance.effective_from if self.instance.pk else None)
        if "effective_from" in self.fields and signed_on and effective_from and effective_from < signed_on:
            self.add_error("effective_from", "An agreement cannot take effect before it is signed.")
        if "terminated_on" in self.fields:
            terminated_on, reason = data.get("terminated_on"), (data.get("termination_reason") or "").strip()
            if terminated_on and effective_from and terminated_on < effective_from:
                self.add_error("terminated_on", f"Cannot be before the agreement took effect ({effective_from.isoformat()}).")
            if reason and not terminated_on and "terminated_on" not in self.errors:
                self.add_error("terminated_on", "Give the termination date with the reason.")
        return data


@admin.register(AuthorizedParticipantAgreement)
class AuthorizedParticipantAgreementAdmin(ServiceAdmin):
    form = AgreementForm
    list_display = ["participant", "version", "signed_on", "effective_from", "terminated_on", "in_force_today", "retained_until",
                    "sha256_short", "document_size", "download"]
    list_filter = ["participant", ("terminated_on", admin.EmptyFieldListFilter)]
    search_fields = ["participant__legal_name", "participant__dtc_participant_number", "document_sha256"]
    list_select_related = ["participant"]
    date_hierarchy = "effective_from"
    add_fields = ["participant", "version", "signed_on", "effective_from", "document"]
    record_fields = ["participant", "version", "signed_on", "effective_from", "download", "document_sha256", "document_size",
                     "uploaded_by", "uploaded_at", "in_force_today", "retained_until"]
    termination_fields = ["terminated_on", "termination_reason"]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.record_fields + self.termination_fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Terminated once, for good. Asked of the stored row: a re-shown form has already set the posted date on obj.
        if AuthorizedParticipantAgreement.objects.filter(pk=obj.pk, terminated_on__isnull=False).exists():
            return self.record_fields + self.termination_fields
        return self.record_fields

    @admin.display(description="in force today", boolean=True)
    def in_force_today(self, obj):
        return obj.in_force_on(_today())

    @admin.display(description="retained until")
    def retained_until(self, obj):
        until = obj.retained_until
        return until.isoformat() if until else "while in force, then 5 years"

    @admin.display(description="SHA-256", ordering="document_sha256")
    def sha256_short(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.document_sha256, obj.document_sha256[:12])

    @admin.display(description="document")
    def download(self, obj):
        if not obj.pk or not obj.document:
            return "-"
        url = reverse("admin:orders_authorizedparticipantagreement_document", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.document.name.rsplit("/", 1)[-1])

    def get_urls(self):
        return [
            path("<int:agreement_id>/document/", self.admin_site.admin_view(self.document_view),
                 name="orders_authorizedparticipantagreement_document"),
            *super().get_urls(),
        ]

    def document_view(self, request, agreement_id: int):
        """The signed document, to staff who may view agreements (media files are not served publicly)."""
        agreement = get_object_or_404(AuthorizedParticipantAgreement, pk=agreement_id)
        if not self.has_view_permission(request, agreement):
            raise PermissionDenied
        filename = agreement.document.name.rsplit("/", 1)[-1]
        try:
            handle = agreement.document.open("rb")
        except FileNotFoundError:
            self.message_user(request, f"The document of {agreement} is missing from storage.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_authorizedparticipantagreement_change", args=[agreement.pk]))
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            saved = services.agreement_add(
                actor=request.user, participant=data["participant"], version=data["version"], signed_on=data["signed_on"],
                effective_from=data["effective_from"], document=data["document"],
            )
            obj.pk = saved.pk
            return
        if data.get("terminated_on") or (data.get("termination_reason") or "").strip():
            services.agreement_terminate(
                actor=request.user, agreement=obj, terminated_on=data.get("terminated_on"), reason=data.get("termination_reason") or "",
            )

    def has_delete_permission(self, request, obj=None):
        # Never in bulk (no "delete selected"); one agreement only once its retention period has passed.
        if obj is None or not super().has_delete_permission(request, obj):
            return False
        try:
            obj.check_deletable(_today())
        except DomainError:
            return False
        return True

    def delete_model(self, request, obj):
        services.agreement_delete(actor=request.user, agreement=obj, today=_today())

    def delete_queryset(self, request, queryset):
        for agreement in queryset:
            services.agreement_delete(actor=request.user, agreement=agreement, today=_today())


# --- Fund order terms (Operations) ------------------------------------------------------------


class FundOrderTermsForm(forms.ModelForm):
    """Readable messages for the model's check constraints (they would otherwise surface as constraint names)."""

    class Meta:
        model = FundOrderTerms
        fields = ["fund", "nscc_fixed_fee", "dtc_fixed_fee", "variable_fee_pct", "cash_order_cutoff"]

    def clean(self):
        data = super().clean()
        nscc, dtc, variable = data.get("nscc_fixed_fee"), data.get("dtc_fixed_fee"), data.get("variable_fee_pct")
        if nscc is not None and nscc < 0:
            self.add_error("nscc_fixed_fee", "A Transaction Fee cannot be negative.")
        if dtc is not None and dtc < 0:
            self.add_error("dtc_fixed_fee", "A Transaction Fee cannot be negative.")
        elif nscc is not None and dtc is not None and nscc >= 0 and dtc < nscc:
            self.add_error("dtc_fixed_fee", f"The DTC Process fee cannot be below the NSCC Process fee ({nscc}): it is the costlier process.")
        if variable is not None and not 0 <= variable <= 2:
            self.add_error("variable_fee_pct", "Between 0 and 2 percent of the cash and cash-in-lieu legs.")
        cutoff = data.get("cash_order_cutoff")
        if cutoff is not None and cutoff >= dt.time(16, 0):
            self.add_error("cash_order_cutoff", "An earlier cut-off for cash orders must be before the 16:00 ET close; leave empty for the close.")
        return data


@admin.register(FundOrderTerms)
class FundOrderTermsAdmin(HistoryAdmin):
    form = FundOrderTermsForm
    list_display = ["fund", "nscc_fixed_fee", "dtc_fixed_fee", "variable_fee_pct", "cash_order_cutoff", "updated_at"]
    list_select_related = ["fund"]
    search_fields = ["fund__ticker", "fund__name"]

    def get_readonly_fields(self, request, obj=None):
        return ["fund", "updated_at"] if obj is not None else ["updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False


# --- AP holdings of Fund Shares (affiliation, section 17(a) relief) ---------------------------


@admin.register(AuthorizedParticipantHolding)
class AuthorizedParticipantHoldingAdmin(ServiceAdmin):
    list_display = ["participant", "fund", "as_of", "shares", "shares_outstanding", "percent", "affiliation", "reported_by", "reported_at"]
    list_filter = ["fund", "participant"]
    search_fields = ["participant__legal_name", "fund__ticker"]
    list_select_related = ["participant", "fund", "reported_by"]
    date_hierarchy = "as_of"
    fields = ["participant", "fund", "as_of", "shares"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return self.fields + ["shares_outstanding", "percent_of_fund", "affiliation", "reported_by", "reported_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="% of Fund", ordering="percent_of_fund")
    def percent(self, obj):
        return f"{obj.percent_of_fund}%"

    @admin.display(description="affiliation")
    def affiliation(self, obj):
        if obj.percent_of_fund > services.CONTROL_THRESHOLD_PCT:
            return "control (>25%)"
        if obj.percent_of_fund >= services.AFFILIATE_THRESHOLD_PCT:
            return "affiliated person (5%+)"
        return "-"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.participant_holding_report(
            actor=request.user, participant=data["participant"], fund=data["fund"], as_of=data["as_of"], shares=data["shares"],
        )
        obj.pk = saved.pk

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)  # a new report, not an edit

    def has_delete_permission(self, request, obj=None):
        return False


# --- Cash days (Operations, before the open) ----------------------------------------------------


class CashAnnouncementForm(forms.ModelForm):
    cash_in_lieu = forms.CharField(
        required=False, label="cash in lieu tickers", help_text="Partly-cash days: the basket securities delivered as cash, comma-separated.",
    )

    class Meta:
        model = CashAnnouncement
        fields = ["fund", "trade_date", "applies_to", "extent", "reason"]


@admin.register(CashAnnouncement)
class CashAnnouncementAdmin(ServiceAdmin):
    """Announced before the open and published to every AP at once; never changed afterwards."""

    form = CashAnnouncementForm
    list_display = ["fund", "trade_date", "applies_to", "extent", "cash_in_lieu_tickers", "announced_by", "announced_at", "publication"]
    list_filter = ["fund", "applies_to", "extent"]
    list_select_related = ["fund", "announced_by", "publication"]
    date_hierarchy = "trade_date"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["fund", "trade_date", "applies_to", "extent", "cash_in_lieu", "reason"]
        return ["fund", "trade_date", "applies_to", "extent", "cash_in_lieu_tickers", "reason", "announced_by", "announced_at", "publication"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.cash_day_announce(
            actor=request.user, fund=data["fund"], trade_date=data["trade_date"], applies_to=data["applies_to"], extent=data["extent"],
            reason=data["reason"], cash_in_lieu_tickers=[t for t in (data.get("cash_in_lieu") or "").split(",") if t.strip()],
        )
        obj.pk = saved.pk

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


# --- Orders (read-only; Operations confirm settlement) ----------------------------------------


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["at_et", "from_status", "to_status", "actor", "message", "details"]
    show_change_link = False
    ordering = ["at", "id"]

    @admin.display(description="at")
    def at_et(self, obj):
        return _et(obj.at)


class SettlementFailureForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                             help_text="Why the settlement failed (sent to the order's history).")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "reference", "fund", "participant", "side", "creation_units", "basket_type", "status", "strike", "received_at", "received_et",
        "balancing_amount", "balancing_amount_payer", "net_cash_amount", "net_cash_payer", "settlement_date", "settled_late", "ap_affiliated",
    ]
    list_filter = ["status", "fund", "side", "trade_date", "participant", "strike", "basket_type", "settled_late", "ap_affiliated"]
    search_fields = ["reference", "participant__legal_name", "idempotency_key"]
    list_select_related = ["fund", "participant"]
    date_hierarchy = "trade_date"
    inlines = [OrderEventInline]
    actions = ["mark_settled", "mark_settlement_failed"]
    fieldsets = [
        (None, {"fields": ["reference", "status", "fund", "participant", "placed_by", "agreement", "side", "creation_units", "shares",
                           "basket_type", "substitute_basket", "alternate_basket_ref", "settlement_channel"]}),
        ("Receipt and cut-off", {"fields": ["received_at", "received_et", "trade_date", "strike", "cutoff_at", "idempotency_key",
                                            "rejection_reason", "rejection_message"]}),
        ("Affiliation at receipt", {"fields": ["ap_affiliated", "affiliation_note"]}),
        ("Pricing", {"fields": ["nav", "priced_basket", "nav_per_share", "nav_per_creation_unit", "nav_amount", "in_kind_value",
                                "cash_in_lieu_amount", "basket_value", "balancing_amount", "balancing_amount_payer", "fixed_fee",
                                "variable_fee", "total_fees", "net_cash_amount", "net_cash_payer", "priced_at"]}),
        ("Settlement", {"fields": ["settlement_date", "settlement_deadline", "delivers_foreign_stock", "settled_on", "settled_late",
                                   "failure_reason"]}),
    ]
    readonly_fields = ["received_et"]

    @admin.display(description="received (ET)", ordering="received_at")
    def received_et(self, obj):
        return _et(obj.received_at)

    def has_settle_permission(self, request):
        return request.user.has_perm("orders.change_order")

    @admin.action(description="Mark settled on the settlement date", permissions=["settle"])
    def mark_settled(self, request, queryset):
        settled, late = [], []
        for order in queryset.order_by("received_at"):
            if order.status != Order.Status.PRICED:
                self.message_user(request, f"{order.reference}: {order.get_status_display().lower()}, only a priced order settles; skipped.",
                                  messages.WARNING)
                continue
            try:
                order = services.order_settle(actor=request.user, order=order, settled_on=order.settlement_date)
            except DomainError as error:
                self.message_user(request, f"{order.reference}: {error.message}", messages.ERROR)
                continue
            (late if order.settled_late else settled).append(order.reference)
        if settled:
            self.message_user(request, f"Settled {len(settled)} order(s): {', '.join(settled)}.", messages.SUCCESS)
        if late:
            self.message_user(request, f"Settled LATE, after the section 22(e) deadline: {', '.join(late)}.", messages.WARNING)

    @admin.action(description="Mark settlement failed (asks for the reason)", permissions=["settle"])
    def mark_settlement_failed(self, request, queryset):
        form = SettlementFailureForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            failed = []
            for order in queryset.order_by("received_at"):
                try:
                    services.order_fail(actor=request.user, order=order, reason=form.cleaned_data["reason"])
                except DomainError as error:
                    self.message_user(request, f"{order.reference}: {error.message}", messages.ERROR)
                else:
                    failed.append(order.reference)
            if failed:
                self.message_user(request, f"Marked {len(failed)} order(s) failed to settle: {', '.join(failed)}.", messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Mark settlement failed",
            "opts": self.model._meta,
            "orders": queryset.select_related("fund", "participant"),
            "form": form,
            "action": "mark_settlement_failed",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/order/settlement_failed.html", context)


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyModelAdmin):
    list_display = ["order", "at_et", "from_status", "to_status", "actor", "message"]
    list_filter = ["to_status"]
    search_fields = ["order__reference", "message"]
    list_select_related = ["order", "actor"]

    @admin.display(description="at", ordering="at")
    def at_et(self, obj):
        return _et(obj.at)


# --- Creation Basket records (condition A.9(c), kept five years) -------------------------------


class RecordLineInline(ReadOnlyInline):
    model = CreationBasketRecordLine
    fields = ["ticker", "cusip", "description", "quantity", "price", "market_value", "weight_pct", "cash_in_lieu"]
    show_change_link = False
    ordering = ["ticker"]


@admin.register(CreationBasketRecord)
class CreationBasketRecordAdmin(ReadOnlyModelAdmin):
    list_display = ["order", "trade_date", "fund", "participant_name", "side", "creation_units", "basket_type", "basket_value",
                    "balancing_amount", "balancing_amount_payer", "cash_amount", "retain_until"]
    list_filter = ["fund", "side", "basket_type", "trade_date"]
    search_fields = ["order__reference", "participant_name", "dtc_participant_number"]
    list_select_related = ["order", "fund"]
    date_hierarchy = "trade_date"
    inlines = [RecordLineInline]
    actions = ["export_csv"]

    @admin.action(description="Export CSV (condition A.9(c) records)")
    def export_csv(self, request, queryset):
        records = queryset.select_related("order", "fund").prefetch_related("lines").order_by("trade_date", "order__received_at")
        response = HttpResponse(records_csv(records), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="creation-basket-records-{_today().isoformat()}.csv"'
        return response


# --- Dissemination log (orders.dissemination): read-only, written by the outbox only ------------------


class DisseminationAttemptInline(ReadOnlyInline):
    model = DisseminationAttempt
    fields = ["attempt", "attempted_at", "url", "http_status", "accepted", "duration_ms", "error"]
    show_change_link = False
    ordering = ["attempt"]


@admin.register(Dissemination)
class DisseminationAdmin(ReadOnlyAdmin):
    list_display = ["publication", "participant", "status", "attempts", "next_attempt_at", "delivered_at", "acknowledged_at"]
    list_filter = ["status", "publication__kind", "publication__fund", "participant"]
    search_fields = ["=publication__sequence", "participant__legal_name"]
    list_select_related = ["publication", "publication__fund", "participant"]
    inlines = [DisseminationAttemptInline]


@admin.register(DisseminationAttempt)
class DisseminationAttemptAdmin(ReadOnlyModelAdmin):
    list_display = ["dissemination", "attempt", "attempted_at", "http_status", "accepted", "duration_ms", "url"]
    list_filter = ["accepted", "http_status"]
    search_fields = ["=dissemination__publication__sequence", "dissemination__participant__legal_name"]
    list_select_related = ["dissemination", "dissemination__publication", "dissemination__participant"]


@admin.register(DisseminationFanOut)
class DisseminationFanOutAdmin(ReadOnlyModelAdmin):
    list_display = ["publication", "fanned_out_at", "recipients"]
    search_fields = ["=publication__sequence"]
    list_select_related = ["publication", "publication__fund"]
