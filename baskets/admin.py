"""Protected Securities in the admin: Portfolio Managers designate and end; Compliance reads."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from backoffice.history_admin import HistoryAdmin

from backoffice import roles
from backoffice.exceptions import DomainError
from baskets import selectors, services
from baskets.models import BasketComponent, BasketEvent, BasketPolicy, ProtectedSecurity, ProxySpread, SubstituteBasket
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

