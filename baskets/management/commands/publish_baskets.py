"""Publish the Substitute Baskets of a business day (default: today, New York), or record proxy spreads."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backoffice.audit import system_user
from backoffice.exceptions import DomainError
from baskets import services
from funds import business_calendar
from funds.models import Fund


class Command(BaseCommand):
    help = "Build and publish Substitute Baskets for a business day; --spreads records that day's proxy spreads instead."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=dt.date.fromisoformat, help="Trade date, YYYY-MM-DD (default: today in New York).")
        parser.add_argument("--fund", action="append", default=[], help="Fund ticker (repeatable; default: every active Fund).")
        parser.add_argument("--spreads", action="store_true", help="Record the day's proxy spreads (after the End of Day NAV).")

    def handle(self, *args, **options):
        day = options["date"] or business_calendar.business_date(timezone.now())
        fund_ids = None
        if options["fund"]:
            tickers = [t.upper() for t in options["fund"]]
            found = dict(Fund.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
            unknown = sorted(set(tickers) - set(found))
            if unknown:
                raise CommandError(f"unknown Fund ticker(s): {', '.join(unknown)}")
            fund_ids = list(found.values())
        try:
            if options["spreads"]:
                for o in services.proxy_spreads_record(day=day, fund_ids=fund_ids, actor=system_user()):
                    detail = f"{o.spread.spread_pct}%" if o.spread else o.reason
                    self.stdout.write(f"{o.ticker:8} {o.date} {o.status:17} {detail}")
                return
            outcomes = services.substitute_baskets_publish(trade_date=day, fund_ids=fund_ids, actor=system_user())
        except DomainError as error:
            raise CommandError(error.message) from error
        failed = 0
        for o in outcomes:
            if o.basket is not None:
                b = o.basket
                detail = (f"v{b.version} {b.component_count} names, active share {b.active_share_pct}%, "
                          f"overlap {b.basket_overlap_pct}%, TE {b.tracking_error_pct}%, cash {b.cash_amount}")
            else:
                detail = f"[{o.constraint}] {o.message}" if o.status == services.Status.FAILED else ""
            failed += o.status == services.Status.FAILED
            self.stdout.write(f"{o.ticker:8} {o.trade_date} {o.status:17} {detail}")
        if failed:
            raise CommandError(f"{failed} basket(s) not published; Operations was alerted.")
