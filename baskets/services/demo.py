"""The demo's baskets: Protected Securities designated by the demo PM, then every replayed business day's
Substitute Basket published (as before that day's open) and its proxy spread recorded (as at that day's
close), through the same services the beat runs. Runs after ``funds.services.demo.demo_load``; no-op when done.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from backoffice.audit import system_user
from baskets.selectors import market_history
from baskets.models import BasketPolicy, ProtectedSecurity, SubstituteBasket
from baskets.services.protected import protected_security_designate
from baskets.services.publication import Status, proxy_spreads_record, substitute_baskets_publish
from funds import business_calendar
from funds.models import Fund, NetAssetValue, Strike
from funds.services.demo import DEMO_FUNDS

# Per demo Fund: how many of its largest launch holdings the PM protects (DAGE's stay under 5% of
# assets, so the engine shows how it still reaches the 5% Active Share floor; DAVE's are above it).
PROTECTED_COUNT = {"DAGE": 3, "DAVE": 6}
REASON = "Demo: position being built over the coming weeks; disclosure would invite front-running (synthetic)."


def demo_baskets_load(*, stdout=None) -> dict:
    actor = system_user()
    tickers = [spec.ticker for spec in DEMO_FUNDS]
    funds = list(Fund.objects.filter(ticker__in=tickers).order_by("ticker"))
    if not funds:
        return {"baskets": 0}
    if SubstituteBasket.objects.filter(fund__in=funds).exists():
        if stdout:
            stdout.write("Demo baskets already published: nothing to do.\n")
        return {"baskets": SubstituteBasket.objects.filter(fund__in=funds).count()}
    with transaction.atomic():
        for fund in funds:
            BasketPolicy.objects.get_or_create(fund=fund, defaults={"min_average_dollar_volume": Decimal("50000000.00")})
            if not ProtectedSecurity.objects.filter(fund=fund).exists():
                launch = fund.portfolios.order_by("as_of").first()
                largest = sorted(launch.holdings.select_related("security"), key=lambda h: -h.quantity * _close(h))[: PROTECTED_COUNT.get(fund.ticker, 3)]
                for holding in largest:
                    protected_security_designate(
                        fund_id=fund.pk, security_id=holding.security_id, effective_from=launch.as_of, reason=REASON, actor=actor,
                    )
    days = sorted(set(NetAssetValue.objects.filter(fund__in=funds, strike=Strike.END_OF_DAY).values_list("date", flat=True)))
    published = failed = 0
    # prices loaded once for the whole replay (the service cuts each day's window from it)
    history = max(BasketPolicy.objects.filter(fund__in=funds).values_list("history_days", flat=True))
    market = market_history(end=days[-1], sessions=len(days) + history + 2) if days else None
    for day in days[1:]:
        before_open = business_calendar.at_new_york(day, dt.time(8, 0))
        for outcome in substitute_baskets_publish(trade_date=day, fund_ids=[f.pk for f in funds], actor=actor, now=before_open, market=market):
            published += outcome.status == Status.PUBLISHED
            failed += outcome.status == Status.FAILED
            if outcome.status == Status.FAILED and stdout:
                stdout.write(f"  {outcome.ticker} {day}: not published: {outcome.message}\n")
        after_close = business_calendar.session_close(day) + dt.timedelta(minutes=30)
        proxy_spreads_record(day=day, fund_ids=[f.pk for f in funds], actor=actor, now=after_close)
    # the next business day's basket, published "before the open" after the last replayed close
    if days:
        next_day = business_calendar.next_business_day(days[-1])
        for outcome in substitute_baskets_publish(
            trade_date=next_day, fund_ids=[f.pk for f in funds], actor=actor, now=business_calendar.at_new_york(next_day, dt.time(8, 0)),
            market=market,
        ):
            published += outcome.status == Status.PUBLISHED
            failed += outcome.status == Status.FAILED
    if stdout:
        stdout.write(f"{published} Substitute Baskets published ({failed} refused) for {len(days)} business days\n")
    return {"baskets": published, "failed": failed}


def _close(holding) -> Decimal:
    price = holding.security.daily_prices.filter(date__lte=holding.portfolio.as_of).order_by("-date").values_list("close", flat=True).first()
    return price or Decimal(0)
