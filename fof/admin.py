"""Investing Funds in the admin: display, and the review page where AP Relationship or Compliance staff
approve or reject a registration through ``fof.services``.

Registrations arrive through the API only, and the status changes only on the review page, so every
field here is read-only. On approval the new API user's token is shown once, on the page answering the
POST (never cached, never put in a message: messages may be stored in a cookie).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from backoffice.exceptions import DomainError
from backoffice.history_admin import HistoryAdmin
from backoffice.service_admin import ReadOnlyInline, ReadOnlyModelAdmin
from fof import services
from fof.models import (
    AffiliateListVersion,
    AgreementAcknowledgment,
    HoldingsReport,
    HoldingsReportLine,
    InvestingFund,
    InvestingFundEvent,
    InvestingFundSubAdviser,
    InvestingFundUser,
    LimitAlert,
    ParticipationAgreement,
    ParticipationAgreementEvent,
)


class ReviewForm(forms.Form):
    review_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="Required to reject (the reason is kept with the record); optional on approval.",
    )


class SubAdviserInline(ReadOnlyInline):
    model = InvestingFundSubAdviser
    fields = ["name", "sec_file_number"]
    show_change_link = False


class UserInline(ReadOnlyInline):
    model = InvestingFundUser
    fields = ["user", "created_at"]
    show_change_link = False


class EventInline(ReadOnlyInline):
    model = InvestingFundEvent
    fields = ["kind", "actor", "at", "payload"]
    show_change_link = False


@admin.register(InvestingFund)
class InvestingFundAdmin(HistoryAdmin):
    list_display = ["legal_name", "kind", "sec_file_number", "adviser_name", "status", "created_at", "reviewed_by"]
    list_filter = ["status", "kind"]
    search_fields = ["legal_name", "sec_file_number", "adviser_name", "registration_reference"]
    inlines = [SubAdviserInline, UserInline, EventInline]
    fields = [
        "review", "registration_reference", "legal_name", "kind", "sec_file_number", "adviser_name",
        "adviser_sec_file_number", "contact_name", "contact_email", "contact_phone", "status",
        "reviewed_by", "reviewed_at", "review_note", "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="review")
    def review(self, obj):
        if obj is None or obj.pk is None or obj.status != InvestingFund.Status.PENDING:
            return "-"
        return format_html('<a class="button" href="{}">Approve or reject</a>', reverse("admin:fof_investingfund_review", args=[obj.pk]))

    def has_add_permission(self, request):
        return False  # Investing Funds register themselves through POST /api/fof/registrations/

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        review = path("<int:investing_fund_id>/review/", self.admin_site.admin_view(self.review_view), name="fof_investingfund_review")
        return [review, *super().get_urls()]

    def review_view(self, request, investing_fund_id: int):
        if not request.user.has_perm(services.APPROVE_PERMISSION):
            raise PermissionDenied
        fund = get_object_or_404(InvestingFund, pk=investing_fund_id)
        form = ReviewForm(request.POST if request.method == "POST" else None)
        approval, refusal = None, None
        if request.method == "POST" and form.is_valid():
            note = form.cleaned_data["review_note"]
            decision = request.POST.get("decision", "")
            try:
                if decision == "Approve":
                    approval = services.investing_fund_approve(investing_fund_id=fund.pk, actor=request.user, note=note)
                    fund = approval.investing_fund
                elif decision == "Reject":
                    fund = services.investing_fund_reject(investing_fund_id=fund.pk, actor=request.user, note=note)
                    self.message_user(request, f"{fund} rejected.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:fof_investingfund_change", args=[fund.pk]))
                else:
                    refusal = "Choose Approve or Reject."
            except DomainError as error:
                refusal = error.message
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review {fund}",
            "opts": self.model._meta,
            "original": fund,
            "form": form,
            "approval": approval,
            "refusal": refusal,
        }
        response = TemplateResponse(request, "admin/fof/investingfund/review.html", context, status=400 if refusal else 200)
        add_never_cache_headers(response)
        return response


@admin.register(InvestingFundUser)
class InvestingFundUserAdmin(HistoryAdmin):
    list_display = ["user", "investing_fund", "created_at"]
    readonly_fields = ["user", "investing_fund", "created_at"]

    def has_add_permission(self, request):
        return False  # created by the approval (fof.services.investing_fund_approve)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InvestingFundEvent)
class InvestingFundEventAdmin(ReadOnlyModelAdmin):
    list_display = ["investing_fund", "kind", "actor", "at"]
    list_filter = ["kind"]


# --- FOF Participation Agreements: staff countersign, terminate or decline through fof.services ----


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="Required to terminate or decline (kept with the agreement).",
    )


class AcknowledgmentInline(ReadOnlyInline):
    model = AgreementAcknowledgment
    fields = ["code", "text_version", "text", "accepted_by", "accepted_at"]
    show_change_link = False


class AgreementEventInline(ReadOnlyInline):
    model = ParticipationAgreementEvent
    fields = ["from_status", "to_status", "actor", "at", "payload"]
    show_change_link = False


@admin.register(ParticipationAgreement)
class ParticipationAgreementAdmin(HistoryAdmin):
    list_display = ["investing_fund", "fund", "status", "signed_at", "countersigned_by", "countersigned_at", "closed_at"]
    list_filter = ["status"]
    search_fields = ["investing_fund__legal_name", "fund__ticker"]
    inlines = [AcknowledgmentInline, AgreementEventInline]
    actions = ["countersign_selected"]
    fields = [
        "decide", "investing_fund", "fund", "status", "created_by", "created_at", "signed_by", "signed_at",
        "countersigned_by", "countersigned_at", "closed_by", "closed_at", "closing_reason",
    ]
    readonly_fields = fields

    @admin.display(description="act for the Fund")
    def decide(self, obj):
        if obj is None or obj.pk is None or obj.status in ParticipationAgreement.CLOSED:
            return "-"
        return format_html('<a class="button" href="{}">Countersign, terminate or decline</a>',
                           reverse("admin:fof_participationagreement_decide", args=[obj.pk]))

    def has_add_permission(self, request):
        return False  # Investing Funds ask for agreements through POST /api/fof/agreements/

    def has_delete_permission(self, request, obj=None):
        return False  # kept for the investment and six years after (condition B.9)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(services.COUNTERSIGN_PERMISSION):
            actions.pop("countersign_selected", None)
        return actions

    @admin.action(description="Countersign the selected agreements for the Fund")
    def countersign_selected(self, request, queryset):
        for agreement in queryset:
            try:
                services.agreement_countersign(agreement_id=agreement.pk, actor=request.user)
                self.message_user(request, f"Agreement {agreement.pk} executed.", messages.SUCCESS)
            except DomainError as error:
                self.message_user(request, f"Agreement {agreement.pk}: {error.message}", messages.ERROR)

    def get_urls(self):
        decide = path("<int:agreement_id>/decide/", self.admin_site.admin_view(self.decide_view), name="fof_participationagreement_decide")
        return [decide, *super().get_urls()]

    def decide_view(self, request, agreement_id: int):
        if not request.user.has_perm(services.COUNTERSIGN_PERMISSION):
            raise PermissionDenied
        agreement = get_object_or_404(ParticipationAgreement, pk=agreement_id)
        form = DecisionForm(request.POST if request.method == "POST" else None)
        refusal = None
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            decision = request.POST.get("decision", "")
            try:
                if decision == "Countersign":
                    agreement = services.agreement_countersign(agreement_id=agreement.pk, actor=request.user)
                elif decision == "Terminate":
                    agreement = services.agreement_terminate(agreement_id=agreement.pk, actor=request.user, reason=reason)
                elif decision == "Decline":
                    agreement = services.agreement_decline(agreement_id=agreement.pk, actor=request.user, reason=reason)
                else:
                    raise DomainError("Choose Countersign, Terminate or Decline.")
                self.message_user(request, f"Agreement {agreement.pk} is now {agreement.get_status_display().lower()}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:fof_participationagreement_change", args=[agreement.pk]))
            except DomainError as error:
                refusal = error.message
        context = {
            **self.admin_site.each_context(request),
            "title": f"Act for the Fund on {agreement}",
            "opts": self.model._meta,
            "original": agreement,
            "form": form,
            "refusal": refusal,
        }
        return TemplateResponse(request, "admin/fof/participationagreement/decide.html", context, status=400 if refusal else 200)


@admin.register(AffiliateListVersion)
class AffiliateListVersionAdmin(ReadOnlyModelAdmin):
    list_display = ["investing_fund", "version", "submitted_by", "submitted_at"]
    list_filter = ["investing_fund"]


# --- Holdings reports and limit alerts: written by fof.services from the API; Compliance acknowledges alerts ---


class HoldingsReportLineInline(ReadOnlyInline):
    model = HoldingsReportLine
    fields = ["fund", "shares", "value", "shares_outstanding"]
    show_change_link = False


class LimitAlertInline(ReadOnlyInline):
    model = LimitAlert
    fields = ["kind", "fund", "figure", "message", "acknowledged_by", "acknowledged_at"]


@admin.register(HoldingsReport)
class HoldingsReportAdmin(ReadOnlyModelAdmin):
    list_display = ["investing_fund", "as_of", "total_assets", "submitted_at"]
    list_filter = ["investing_fund"]
    fields = ["investing_fund", "as_of", "total_assets", "investment_company_assets", "results", "submitted_by", "submitted_at"]
    readonly_fields = fields
    inlines = [HoldingsReportLineInline, LimitAlertInline]


@admin.register(LimitAlert)
class LimitAlertAdmin(ReadOnlyModelAdmin):
    list_display = ["state", "kind", "investing_fund", "fund", "figure", "created_at", "acknowledged_by"]
    list_filter = [("acknowledged_at", admin.EmptyFieldListFilter), "kind", "investing_fund"]
    fields = ["report", "kind", "investing_fund", "fund", "figure", "message", "created_at", "acknowledged_by", "acknowledged_at"]
    readonly_fields = fields
    actions = ["acknowledge_selected"]

    def get_queryset(self, request):
        # open alerts first, newest first
        from django.db.models import F

        return super().get_queryset(request).select_related("investing_fund", "fund", "acknowledged_by").order_by(
            F("acknowledged_at").asc(nulls_first=True), "-created_at", "-pk")

    @admin.display(description="state")
    def state(self, obj):
        if obj.acknowledged_at is None:
            return format_html('<strong style="color:#ba2121">{}</strong>', "OPEN")
        return "acknowledged"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(services.ACKNOWLEDGE_ALERT_PERMISSION):
            actions.pop("acknowledge_selected", None)
        return actions

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge_selected(self, request, queryset):
        for alert in queryset:
            try:
                services.limit_alert_acknowledge(alert_id=alert.pk, actor=request.user)
                self.message_user(request, f"Alert {alert.pk} acknowledged.", messages.SUCCESS)
            except DomainError as error:
                self.message_user(request, f"Alert {alert.pk}: {error.message}", messages.ERROR)
