"""Baskets in the admin: Protected Securities (PMs designate and end; Compliance reads), published Substitute
Baskets, Alternate Baskets (a PM drafts, a second person approves; every write through ``baskets.services``) and
the read-only Publications every AP receives."""

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice import roles
from backoffice.exceptions import DomainError
from backoffice.history_admin import HistoryAdmin
from backoffice.service_admin import ReadOnlyInline, ServiceAdmin
from baskets import selectors, services
from baskets.models import (
    AlternateBasket,
    AlternateBasketComponent,
    AlternateBasketEvent,
    BasketComponent,
    BasketEvent,
    BasketPolicy,
    ProtectedSecurity,
    ProxySpread,
    Publication,
    SubstituteBasket,
)
from funds import business_calendar
from funds.admin import ReadOnlyAdmin  # published records: no add, change or delete
from funds.models import Security


@admin.register(ProtectedSecurity)
class ProtectedSecurityAdmin(HistoryAdmin):
    list_display = ["fund", "security", "effective_from", "effective_to", "designated_by", "ended_by"]
    list_filter = ["fund", "effective_from"]
    search_fields = ["security__ticker", "fund__ticker", "reason"]
    list_select_related = ["fund", "security", "designated_by", "ended_by"]
    autocomplete_fields = ["security"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["fund", "security", "effective_from", "effective_to", "reason"]
        return ["fund", "security", "effective_from", "reason", "designated_by", "designated_at", "effective_to", "end_reason", "ended_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Once designated, only ending the protection can change: effective_to with its reason.
        return ["fund", "security", "effective_from", "reason", "designated_by", "designated_at", "ended_by"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.protected_security_end(
                designation_id=obj.pk, last_day=data["effective_to"], reason=data.get("end_reason", ""), actor=request.user
            )
        else:
            saved = services.protected_security_designate(
                fund_id=data["fund"].pk, security_id=data["security"].pk, effective_from=data["effective_from"],
                effective_to=data.get("effective_to"), reason=data["reason"], actor=request.user,
            )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


# --- published baskets --------------------------------------------------------------------------





class BasketComponentInline(admin.TabularInline):
    model = BasketComponent
    fields = ["security", "quantity", "price", "market_value", "weight_pct", "target_weight_pct", "cash_in_lieu"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-market_value"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2f}%"


class BasketCorrectionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), help_text="What was wrong in the published basket.")
    exclude = forms.CharField(required=False, help_text="Tickers published in error, comma-separated: left out of the corrected basket.")
    cash_in_lieu = forms.CharField(required=False, help_text="Tickers without a readily available quotation, comma-separated: delivered as cash.")

    @staticmethod
    def security_ids(text: str, field: str) -> list[int]:
        tickers = [t.strip().upper() for t in (text or "").split(",") if t.strip()]
        found = dict(Security.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
        unknown = sorted(set(tickers) - set(found))
        if unknown:
            raise forms.ValidationError({field: f"unknown ticker(s): {', '.join(unknown)}"})
        return list(found.values())

    def clean(self):
        data = super().clean()
        data["exclude_ids"] = self.security_ids(data.get("exclude"), "exclude")
        data["cash_in_lieu_ids"] = self.security_ids(data.get("cash_in_lieu"), "cash_in_lieu")
        return data


@admin.register(SubstituteBasket)
class SubstituteBasketAdmin(ReadOnlyAdmin):
    list_display = ["fund", "trade_date", "version", "component_count", "active_share", "overlap", "tracking_error", "cash_amount", "published_at"]
    list_filter = ["fund", "trade_date"]
    date_hierarchy = "trade_date"
    list_select_related = ["fund"]
    inlines = [BasketComponentInline]
    actions = ["publish_today"]
    base_fields = [
        "fund", "trade_date", "version", "supersedes", "correction_reason", "published_at", "published_by",
        "nav_per_share", "creation_unit_size", "nav_per_creation_unit", "securities_value", "cash_amount", "shares_outstanding",
        "component_count", "basket_overlap_pct", "basket_overlap_note", "active_share_pct", "tracking_error_pct",
        "tracking_error_observations", "tracking_error_note", "ex_ante_tracking_error_pct", "represented_share_pct", "correlation",
    ]

    @admin.display(description="active share", ordering="active_share_pct")
    def active_share(self, obj):
        return _pct(obj.active_share_pct)

    @admin.display(description="overlap", ordering="basket_overlap_pct")
    def overlap(self, obj):
        return _pct(obj.basket_overlap_pct)

    @admin.display(description="tracking error", ordering="tracking_error_pct")
    def tracking_error(self, obj):
        return _pct(obj.tracking_error_pct)

    def _sees_holdings(self, request) -> bool:
        return roles.user_has_role(request.user, *roles.HOLDINGS_ROLES)

    def _sees_protected(self, request) -> bool:
        return roles.user_has_role(request.user, *selectors.PROTECTED_SET_ROLES)

    def get_fields(self, request, obj=None):
        fields = list(self.base_fields)
        if self._sees_holdings(request):
            fields += ["portfolio", "basis_nav"]
        if self._sees_protected(request):
            # Held names missing from the basket are mostly the protected ones, so the side-by-side view is
            # for PMs and Compliance only, like the protected set itself.
            fields += ["comparison", "engine_summary"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="basket against portfolio")
    def comparison(self, obj):
        """Weights side by side (portfolio at the prior close vs the published basket), largest first."""
        rows, summary = selectors.basket_comparison(basket=obj)
        protected = selectors.protected_security_ids(fund_id=obj.fund_id, on=obj.trade_date) if self._request_sees_protected else set()
        head = format_html(
            "<p>Basket Overlap (published, prior day's basket vs prior day's holdings): <b>{}</b> &middot; "
            "overlap of this basket with the portfolio behind the next NAV: <b>{}</b> &middot; Active Share Differential: <b>{}</b> &middot; "
            "ex-ante tracking error (daily): <b>{}</b> &middot; realised Tracking Error (63 days): <b>{}</b> &middot; "
            "share of Fund assets in basket securities: <b>{}</b></p>",
            _pct(obj.basket_overlap_pct), f"{summary['overlap'] * 100:.2f}%", _pct(obj.active_share_pct),
            _pct(obj.ex_ante_tracking_error_pct), _pct(obj.tracking_error_pct), _pct(obj.represented_share_pct),
        )
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td style='text-align:right'>{}</td><td style='text-align:right'>{}</td><td style='text-align:right'>{}</td><td>{}</td></tr>",
            (
                (r["ticker"], r["description"][:40], f"{r['portfolio'] * 100:.3f}%", f"{r['basket'] * 100:.3f}%",
                 f"{(r['basket'] - r['portfolio']) * 100:+.3f}%",
                 "protected" if r["security_id"] in protected else ("not in basket" if r["basket"] == 0 else ("outside portfolio" if r["portfolio"] == 0 else "")))
                for r in rows
            ),
        )
        return format_html(
            "{}<table><thead><tr><th>ticker</th><th>description</th><th>portfolio</th><th>basket</th><th>difference</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>", head, body,
        )

    @admin.display(description="engine report (PMs and Compliance)")
    def engine_summary(self, obj):
        report = obj.engine_report or {}
        lower = report.get("lower_bound") or {}
        items = [
            ("risk model", report.get("risk_model")),
            ("active-share floor", f"{lower.get('method')}: {lower.get('explanation', '')}"),
            ("protected weight", f"{report.get('protected_weight', 0) * 100:.2f}%"),
            ("names at their cap", ", ".join(report.get("capped", [])) or "-"),
            ("holdings not eligible", ", ".join(report.get("ineligible_holdings", [])) or "-"),
            ("screened-out holdings", "; ".join(f"{k}: {v}" for k, v in (report.get("screened_out_holdings") or {}).items()) or "-"),
            ("weight drift from share rounding", f"{report.get('weight_drift', 0) * 100:.3f}%"),
            ("solves / seconds", f"{report.get('solves')} / {report.get('total_seconds', 0):.3f}s"),
            ("notes", "; ".join(report.get("notes", [])) or "-"),
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", items))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._request_sees_protected = self._sees_protected(request)
        extra_context = extra_context or {}
        basket = SubstituteBasket.objects.select_related("fund").filter(pk=object_id).first()
        if basket is not None:
            extra_context["pcf_url"] = (
                reverse("baskets-api:basket-pcf", args=[basket.fund.ticker]) + f"?date={basket.trade_date.isoformat()}&version={basket.version}"
            )
        if request.user.has_perm("baskets.correct_substitutebasket"):
            extra_context["correct_url"] = reverse("admin:baskets_substitutebasket_correct", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [path("<int:basket_id>/correct/", self.admin_site.admin_view(self.correct_view), name="baskets_substitutebasket_correct"), *super().get_urls()]

    def correct_view(self, request, basket_id: int):
        """Publish a correction (a new version) of a basket during its trade date: Portfolio Managers."""
        if not request.user.has_perm("baskets.correct_substitutebasket"):
            raise PermissionDenied
        basket = get_object_or_404(SubstituteBasket, pk=basket_id)
        form = BasketCorrectionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                corrected = services.substitute_basket_correct(
                    basket_id=basket.pk, reason=form.cleaned_data["reason"], actor=request.user,
                    excluded_security_ids=form.cleaned_data["exclude_ids"], cash_in_lieu_security_ids=form.cleaned_data["cash_in_lieu_ids"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Published {corrected}: version {corrected.version} supersedes version {basket.version}.")
                return redirect("admin:baskets_substitutebasket_change", corrected.pk)
        context = {**self.admin_site.each_context(request), "title": f"Correct {basket}", "basket": basket, "form": form, "opts": self.model._meta}
        return render(request, "admin/baskets/substitutebasket/correct.html", context)

    @admin.action(description="Publish today's baskets for the selected baskets' Funds (if not yet published)")
    def publish_today(self, request, queryset):
        if not roles.user_has_role(request.user, roles.OPERATIONS, roles.PORTFOLIO_MANAGER):
            raise PermissionDenied
        outcomes = services.substitute_baskets_publish_due(fund_ids=list(queryset.values_list("fund_id", flat=True).distinct()), actor=request.user)
        if not outcomes:
            self.message_user(request, "Today is not an NYSE business day: nothing to publish.", messages.WARNING)
        for o in outcomes:
            level = messages.ERROR if o.status == services.Status.FAILED else messages.INFO
            self.message_user(request, f"{o.ticker} {o.trade_date}: {o.status} {o.message}", level)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not roles.user_has_role(request.user, roles.OPERATIONS, roles.PORTFOLIO_MANAGER):
            actions.pop("publish_today", None)
        return actions


@admin.register(ProxySpread)
class ProxySpreadAdmin(ReadOnlyAdmin):
    list_display = ["fund", "date", "prior_nav_per_share", "basket_nav_per_share", "fund_nav_per_share", "spread_pct", "computed_at"]
    list_filter = ["fund"]
    date_hierarchy = "date"
    list_select_related = ["fund"]


@admin.register(BasketEvent)
class BasketEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "fund", "trade_date", "kind", "constraint", "message", "actor"]
    list_filter = ["kind", "fund", "constraint"]
    date_hierarchy = "trade_date"
    list_select_related = ["fund", "actor"]


@admin.register(BasketPolicy)
class BasketPolicyAdmin(HistoryAdmin):
    list_display = ["fund", "min_active_share_pct", "max_active_share_pct", "max_weight_pct", "max_names", "adv_fraction_pct",
                    "min_average_dollar_volume", "risk_model", "history_days"]

    def has_delete_permission(self, request, obj=None):
        return False



# --- Alternate Baskets (drafted by a PM, approved by a second person, released to every AP at once) ----------


def _et(instant) -> str:
    return instant.astimezone(business_calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M:%S ET") if instant else "-"


def _default_trade_date() -> dt.date:
    """Today if the session is still open, else the next business day (the earliest day a draft may be for)."""
    now = timezone.now()
    today = business_calendar.business_date(now)
    if business_calendar.is_business_day(today) and now < business_calendar.session_close(today):
        return today
    return business_calendar.next_business_day(today)


class AlternateBasketForm(forms.ModelForm):
    class Meta:
        model = AlternateBasket
        fields = ["fund", "trade_date", "purpose", "rationale"]
        widgets = {"rationale": forms.Textarea(attrs={"rows": 4, "cols": 90})}


class AlternateBasketComponentForm(forms.ModelForm):
    """One line of a draft: carried to ``alternate_basket_draft`` / ``alternate_basket_revise``, never saved by the form."""

    ticker = forms.CharField(max_length=20, help_text="Security ticker.")

    class Meta:
        model = AlternateBasketComponent
        fields = ["quantity", "no_front_running_risk", "attestation_note"]
        labels = {"quantity": "quantity per Creation Unit", "no_front_running_risk": "no front-running / free-riding risk (attested)"}
        widgets = {"attestation_note": forms.TextInput(attrs={"size": 40})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.security_id:
            self.fields["ticker"].initial = self.instance.security.ticker

    def clean_ticker(self):
        return self.cleaned_data["ticker"].strip().upper()

    def _post_clean(self):
        # No model validation here: the service checks every line (unknown ticker, quantity, duplicate, Protected
        # Security, permissibility) and names the offending one; a constraint name on a row would say less.
        pass


class AlternateBasketComponentInline(admin.TabularInline):
    model = AlternateBasketComponent
    form = AlternateBasketComponentForm
    editable_fields = ["ticker", "quantity", "no_front_running_risk", "attestation_note"]
    record_fields = ["security", "quantity", "no_front_running_risk", "attestation_note"]
    verbose_name = "component"
    verbose_name_plural = "components (per Creation Unit)"

    @staticmethod
    def _draft(obj) -> bool:
        return obj is None or obj.status == AlternateBasket.Status.DRAFT

    def get_fields(self, request, obj=None):
        return self.editable_fields if self._draft(obj) and self.has_change_permission(request, obj) else self.record_fields

    def get_extra(self, request, obj=None, **kwargs):
        return 3 if obj is None else (1 if self._draft(obj) else 0)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("security")

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and request.user.has_perm("baskets.change_alternatebasket") and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and request.user.has_perm("baskets.change_alternatebasket") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # "Delete" on a draft's row drops the line from the draft (alternate_basket_revise writes the new set, with
        # history); nothing is ever deleted once submitted.
        return obj is not None and self._draft(obj) and request.user.has_perm("baskets.change_alternatebasket")


class AlternateBasketEventInline(ReadOnlyInline):
    model = AlternateBasketEvent
    fields = ["at_et", "from_status", "to_status", "actor", "message"]
    show_change_link = False
    verbose_name_plural = "workflow events"

    @admin.display(description="at")
    def at_et(self, obj):
        return _et(obj.at)


class AlternateBasketApproveForm(forms.Form):
    release_at = forms.DateTimeField(
        required=False, label="release time (New York)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="Empty: released to every AP at once on approval. Never earlier than the approval itself.",
    )
    note = forms.CharField(required=False, max_length=2000)


class AlternateBasketRejectForm(forms.Form):
    note = forms.CharField(max_length=2000)


@admin.register(AlternateBasket)
class AlternateBasketAdmin(ServiceAdmin):
    """Drafts are written through ``alternate_basket_draft`` / ``alternate_basket_revise``; submit, approve and reject are
    buttons calling their services. Once submitted, the basket is read-only. Nobody deletes one."""

    form = AlternateBasketForm
    list_display = ["id", "fund", "trade_date", "status", "purpose", "drafted_by", "decided_by", "release_et"]
    list_display_links = ["id", "fund"]
    list_filter = ["status", "purpose", "fund", "trade_date"]
    search_fields = ["fund__ticker", "components__security__ticker"]
    list_select_related = ["fund", "drafted_by", "decided_by"]
    date_hierarchy = "trade_date"
    inlines = [AlternateBasketComponentInline, AlternateBasketEventInline]
    record_fieldsets = [
        (None, {"fields": ["fund", "trade_date", "status", "purpose", "rationale"]}),
        ("Workflow", {"fields": ["drafted_by", "drafted_at_et", "submitted_by", "submitted_at_et", "decided_by", "decided_at_et",
                                 "decision_note", "release_et"]}),
        ("Automatic policy checks at submission (the condition A.9(c)(ii) record)", {
            "fields": ["value_per_creation_unit", "cash_per_creation_unit", "check_report_display", "check_report_hash"]}),
        ("Publication (what every AP receives, at its release time)", {"fields": ["publication_display"]}),
    ]
    record_fields = [name for _, options in record_fieldsets for name in options["fields"]]

    @staticmethod
    def _is_draft(obj) -> bool:
        return obj is not None and obj.status == AlternateBasket.Status.DRAFT

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["fund", "trade_date", "purpose", "rationale"]})]
        return self.record_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if self._is_draft(obj):
            return [name for name in self.record_fields if name not in ("purpose", "rationale")]
        return self.record_fields

    def get_inlines(self, request, obj):
        return [AlternateBasketComponentInline] if obj is None else self.inlines

    def get_changeform_initial_data(self, request):
        return {"trade_date": _default_trade_date(), **super().get_changeform_initial_data(request)}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("fund", "drafted_by", "submitted_by", "decided_by")

    def has_change_permission(self, request, obj=None):
        # Once submitted, nothing changes: the page is a record, and the workflow buttons are the only way on.
        return super().has_change_permission(request, obj) and (obj is None or self._is_draft(obj))

    def has_delete_permission(self, request, obj=None):
        return False

    # --- display ----------------------------------------------------------------------------------------

    @admin.display(description="release time", ordering="release_at")
    def release_et(self, obj):
        return _et(obj.release_at)

    @admin.display(description="drafted at")
    def drafted_at_et(self, obj):
        return _et(obj.drafted_at)

    @admin.display(description="submitted at")
    def submitted_at_et(self, obj):
        return _et(obj.submitted_at)

    @admin.display(description="decided at")
    def decided_at_et(self, obj):
        return _et(obj.decided_at)

    @admin.display(description="check report")
    def check_report_display(self, obj):
        report = obj.check_report or {}
        if not report:
            return "Not checked yet: the checks run when the draft is submitted."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((check["check"], "passed" if check["passed"] else "FAILED", "; ".join(check.get("detail") or []) or "-")
             for check in report.get("checks", [])),
        )
        return format_html(
            '<table class="check-report"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>{}</tbody></table>'
            "<details><summary>the report as recorded (JSON)</summary><pre>{}</pre></details>",
            rows, json.dumps(report, indent=2, sort_keys=True),
        )

    @admin.display(description="check report SHA-256")
    def check_report_hash(self, obj):
        return format_html("<code>{}</code>", obj.check_report_sha256) if obj.check_report_sha256 else "-"

    @admin.display(description="publication")
    def publication_display(self, obj):
        publications = list(obj.publications.order_by("sequence")) if obj.pk else []
        if not publications:
            return "None yet: committed on approval."
        return format_html_join(
            "", '<p class="publication">Publication <a href="{}">#{}</a> released {} &middot; payload SHA-256 <code>{}</code> '
            "&middot; chain SHA-256 <code>{}</code></p>",
            ((reverse("admin:baskets_publication_change", args=[p.pk]), p.sequence, _et(p.release_at), p.payload_sha256,
              p.chain_sha256) for p in publications),
        )

    # --- writes: through the services only ---------------------------------------------------------------

    @staticmethod
    def _lines(formsets) -> list[services.DraftLine]:
        lines = []
        for formset in formsets:
            if formset.model is not AlternateBasketComponent:
                continue
            for form in formset.forms:
                data = getattr(form, "cleaned_data", None) or {}
                if not data or data.get("DELETE") or not form.has_changed() and not form.instance.pk:
                    continue
                lines.append(services.DraftLine(ticker=data.get("ticker", ""), quantity=data.get("quantity"),
                                                no_front_running_risk=bool(data.get("no_front_running_risk")),
                                                attestation_note=data.get("attestation_note", "")))
        return lines

    def save_model(self, request, obj, form, change):
        pass  # written with its lines in save_related, by one service call

    def save_formset(self, request, form, formset, change):
        pass  # the lines are written by the service, never by the formset

    def save_related(self, request, form, formsets, change):
        data, lines = form.cleaned_data, self._lines(formsets)
        if change:
            saved = services.alternate_basket_revise(actor=request.user, basket=form.instance, lines=lines,
                                                     rationale=data.get("rationale"), purpose=data.get("purpose"))
        else:
            saved = services.alternate_basket_draft(actor=request.user, fund=data["fund"], trade_date=data["trade_date"],
                                                    purpose=data["purpose"], rationale=data["rationale"], lines=lines)
        form.instance.pk = saved.pk

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return response
        return redirect("admin:baskets_alternatebasket_change", obj.pk)  # the new draft's page, where it is submitted

    def construct_change_message(self, request, form, formsets, add=False):
        return "Drafted through the service." if add else "Revised through the service."

    def show_refusal(self, form, error):
        problems = error.details.get("lines") if isinstance(error.details, dict) else None
        if problems:
            form.add_error(None, ["The draft is refused and nothing was saved. Offending line(s):", *problems])
        else:
            super().show_refusal(form, error)

    # --- workflow buttons ---------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:basket_id>/submit/", view(self.submit_view), name="baskets_alternatebasket_submit"),
            path("<int:basket_id>/approve/", view(self.approve_view), name="baskets_alternatebasket_approve"),
            path("<int:basket_id>/reject/", view(self.reject_view), name="baskets_alternatebasket_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        basket = AlternateBasket.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if basket is not None:
            extra_context = {**(extra_context or {}), "workflow": self._workflow(request, basket)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _workflow(self, request, basket: AlternateBasket) -> dict:
        submitted = basket.status == AlternateBasket.Status.SUBMITTED
        return {
            "can_submit": self._is_draft(basket) and request.user.has_perm("baskets.change_alternatebasket"),
            "can_decide": submitted and request.user.has_perm(roles.APPROVE_ALTERNATE_BASKET),
            # four eyes: whoever drafted or submitted it cannot decide it (the service refuses too)
            "is_drafter": request.user.pk in (basket.drafted_by_id, basket.submitted_by_id),
            "submit_url": reverse("admin:baskets_alternatebasket_submit", args=[basket.pk]),
            "approve_url": reverse("admin:baskets_alternatebasket_approve", args=[basket.pk]),
            "reject_url": reverse("admin:baskets_alternatebasket_reject", args=[basket.pk]),
            "release_placeholder": timezone.now().astimezone(business_calendar.NEW_YORK).strftime("%Y-%m-%dT%H:%M"),
        }

    def _basket_for(self, request, basket_id: int, perm: str) -> AlternateBasket:
        if request.method != "POST" or not request.user.has_perm(perm):
            raise PermissionDenied
        return get_object_or_404(AlternateBasket, pk=basket_id)

    def _back(self, basket: AlternateBasket):
        return redirect("admin:baskets_alternatebasket_change", basket.pk)

    def submit_view(self, request, basket_id: int):
        basket = self._basket_for(request, basket_id, "baskets.change_alternatebasket")
        try:
            basket = services.alternate_basket_submit(actor=request.user, basket=basket)
        except DomainError as error:
            checks = error.details.get("checks") if isinstance(error.details, dict) else None
            if not checks:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, "Not submitted: the basket fails the Fund's basket policy; nothing changed. Failed checks:",
                                  messages.ERROR)
                for check in checks:
                    if not check["passed"]:
                        self.message_user(request, f"{check['check']}: {'; '.join(check.get('detail') or [])}", messages.ERROR)
        else:
            self.message_user(request, f"{basket} submitted for approval: every policy check passed (report SHA-256 "
                                       f"{basket.check_report_sha256[:12]}…). A second Portfolio Manager approves or rejects it.",
                              messages.SUCCESS)
        return self._back(basket)

    def approve_view(self, request, basket_id: int):
        basket = self._basket_for(request, basket_id, roles.APPROVE_ALTERNATE_BASKET)
        form = AlternateBasketApproveForm(request.POST)
        with timezone.override(business_calendar.NEW_YORK):  # the release time is typed in New York time
            valid = form.is_valid()
        if not valid:
            self.message_user(request, "Not approved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()), messages.ERROR)
            return self._back(basket)
        try:
            basket = services.alternate_basket_approve(actor=request.user, basket=basket, release_at=form.cleaned_data["release_at"],
                                                       note=form.cleaned_data["note"])
        except DomainError as error:
            self.message_user(request, f"Not approved: {error.message}", messages.ERROR)
        else:
            publication = basket.publications.order_by("-sequence").first()
            self.message_user(request, f"{basket} approved: Publication #{publication.sequence} is released to every AP at "
                                       f"{_et(basket.release_at)}.", messages.SUCCESS)
        return self._back(basket)

    def reject_view(self, request, basket_id: int):
        basket = self._basket_for(request, basket_id, roles.APPROVE_ALTERNATE_BASKET)
        form = AlternateBasketRejectForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Not rejected: say why the Alternate Basket is rejected.", messages.ERROR)
            return self._back(basket)
        try:
            basket = services.alternate_basket_reject(actor=request.user, basket=basket, note=form.cleaned_data["note"])
        except DomainError as error:
            self.message_user(request, f"Not rejected: {error.message}", messages.ERROR)
        else:
            self.message_user(request, f"{basket} rejected.", messages.WARNING)
        return self._back(basket)


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    """Every piece of Fund information that left (or will leave at its release time) for every AP: read-only."""

    list_display = ["sequence", "kind", "fund", "trade_date", "release_et", "payload_hash", "chain_hash"]
    list_filter = ["kind", "fund", "trade_date"]
    search_fields = ["fund__ticker", "payload_sha256", "chain_sha256"]
    list_select_related = ["fund"]
    date_hierarchy = "trade_date"
    fields = ["sequence", "kind", "fund", "trade_date", "release_et", "substitute_basket", "alternate_basket", "source_reference",
              "created_at", "created_by", "payload_sha256", "previous_chain_sha256", "chain_sha256", "payload_pretty"]
    readonly_fields = fields

    @admin.display(description="release time", ordering="release_at")
    def release_et(self, obj):
        return _et(obj.release_at)

    @admin.display(description="payload SHA-256", ordering="payload_sha256")
    def payload_hash(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.payload_sha256, obj.payload_sha256[:12])

    @admin.display(description="chain SHA-256")
    def chain_hash(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.chain_sha256, obj.chain_sha256[:12])

    @admin.display(description="payload (the exact bytes sent are the canonical JSON; shown indented)")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(json.loads(obj.payload), indent=2, sort_keys=True, ensure_ascii=False))
