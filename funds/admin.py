"""Admin: display, filters, inlines. Writes go through services; struck NAVs are read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from backoffice.history_admin import HistoryAdmin

from backoffice.exceptions import DomainError
from funds import business_calendar, services
from funds.models import (
    Adviser, DailyPrice, Distributor, Fund, Holding, IntradaySnapshot, NavStrikeFailure, NetAssetValue, Portfolio,
    Security, SharesOutstandingEntry, ShareQuote, Strike, Trust,
)


class ServiceSaveAdmin(HistoryAdmin):
    """Saves through the model's create/update service so admin and API enforce the same rules."""

    create_service = None
    update_service = None
    id_kwarg = None

    def save_model(self, request, obj, form, change):
        if change:
            saved = type(self).update_service(**{self.id_kwarg: obj.pk}, actor=request.user, **form.cleaned_data)
        else:
            saved = type(self).create_service(actor=request.user, **form.cleaned_data)
        obj.pk = saved.pk


@admin.register(Trust, Adviser, Distributor)
class PartyAdmin(HistoryAdmin):
    list_display = ["name", "sec_file_number"]
    search_fields = ["name"]


@admin.register(Fund)
class FundAdmin(ServiceSaveAdmin):
    create_service = staticmethod(services.fund_create)
    update_service = staticmethod(services.fund_update)
    id_kwarg = "fund_id"
    list_display = ["ticker", "name", "listing_exchange", "creation_unit_size", "launch_date",
                    "corrective_action_threshold_pct", "tracking_error_threshold_pct", "is_active"]
    list_filter = ["is_active", "listing_exchange", "trust"]
    search_fields = ["ticker", "name", "cusip"]
    actions = ["strike_intraday_today", "strike_end_of_day_today"]
    fieldsets = [
        (None, {"fields": ["trust", "adviser", "distributor", "name", "ticker", "cusip", "listing_exchange", "is_active"]}),
        ("Creation Units", {"fields": ["creation_unit_size", "launch_date", "initial_price"]}),
        ("NAV strikes (America/New_York)", {"fields": ["intraday_strike_time", "end_of_day_strike_time"]}),
        ("Board thresholds (percent)", {"fields": ["corrective_action_threshold_pct", "tracking_error_threshold_pct"]}),
    ]

    def _strike(self, request, queryset, strike):
        today = business_calendar.business_date(timezone.now())
        try:
            with transaction.atomic():
                services.nav_strike_request(fund_ids=list(queryset.values_list("pk", flat=True)), day=today, strike=strike, actor=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"{Strike(strike).label} for {today.isoformat()} queued for {queryset.count()} fund(s); "
            "results appear under NAVs, refusals under NAV strike failures.",
            messages.SUCCESS,
        )

    @admin.action(description="Strike today's Intra-Day NAV", permissions=["strike"])
    def strike_intraday_today(self, request, queryset):
        self._strike(request, queryset, Strike.INTRADAY)

    @admin.action(description="Strike today's End of Day NAV", permissions=["strike"])
    def strike_end_of_day_today(self, request, queryset):
        self._strike(request, queryset, Strike.END_OF_DAY)

    def has_strike_permission(self, request):
        return request.user.has_perm("funds.add_netassetvalue")


@admin.register(Security)
class SecurityAdmin(ServiceSaveAdmin):
    create_service = staticmethod(services.security_create)
    update_service = staticmethod(services.security_update)
    id_kwarg = "security_id"
    list_display = ["ticker", "description", "asset_class", "sector", "exchange", "country", "round_lot",
                    "average_daily_volume", "identifiers_synthetic", "is_active"]
    list_filter = ["asset_class", "exchange", "is_foreign", "identifiers_synthetic", "is_active", "sector"]
    search_fields = ["ticker", "cusip", "isin", "description"]


class ReadOnlyAdmin(HistoryAdmin):
    """Market data and ledgers are written by commands and services, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DailyPrice)
class DailyPriceAdmin(ReadOnlyAdmin):
    list_display = ["security", "date", "close", "adj_close", "volume", "source"]
    list_filter = ["source", "date"]
    search_fields = ["security__ticker"]
    date_hierarchy = "date"
    list_select_related = ["security"]


@admin.register(IntradaySnapshot)
class IntradaySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["security", "date", "price", "taken_at", "source"]
    list_filter = ["source"]
    search_fields = ["security__ticker"]
    date_hierarchy = "date"
    list_select_related = ["security"]


@admin.register(ShareQuote)
class ShareQuoteAdmin(ReadOnlyAdmin):
    list_display = ["fund", "date", "strike", "bid", "ask", "closing_price", "source"]
    list_filter = ["fund", "strike", "source"]
    date_hierarchy = "date"


class HoldingInline(admin.TabularInline):
    model = Holding
    fields = ["security", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["security__ticker"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Portfolio)
class PortfolioAdmin(ReadOnlyAdmin):
    list_display = ["fund", "as_of", "cash", "liabilities", "holdings_count", "created_by"]
    list_filter = ["fund"]
    date_hierarchy = "as_of"
    inlines = [HoldingInline]

    @admin.display(description="holdings")
    def holdings_count(self, obj):
        return obj.holdings.count()


@admin.register(SharesOutstandingEntry)
class SharesOutstandingEntryAdmin(ReadOnlyAdmin):
    list_display = ["fund", "effective_date", "kind", "change", "reference", "created_by"]
    list_filter = ["fund", "kind"]


@admin.register(NetAssetValue)
class NetAssetValueAdmin(ReadOnlyAdmin):
    list_display = ["fund", "date", "strike", "nav_per_share", "net_assets", "shares_outstanding", "holdings_count", "struck_at", "struck_by"]
    list_filter = ["fund", "strike"]
    date_hierarchy = "date"
    list_select_related = ["fund", "struck_by"]
    exclude = ["inputs"]
    readonly_fields = ["inputs_table"]

    @admin.display(description="inputs (security, quantity, price, market value)")
    def inputs_table(self, obj):
        from django.utils.html import format_html_join, format_html

        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                ((r[1], r[2], r[3], r[4]) for r in obj.inputs.get("rows", [])))
        return format_html("<table><tr><th>Security</th><th>Quantity</th><th>Price</th><th>Market value</th></tr>{}</table>", rows)


@admin.register(NavStrikeFailure)
class NavStrikeFailureAdmin(ReadOnlyAdmin):
    list_display = ["fund", "date", "strike", "reason", "message", "attempted_at", "attempted_by"]
    list_filter = ["fund", "reason", "strike"]
