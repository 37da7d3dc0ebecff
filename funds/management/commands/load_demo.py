"""Load the demo Trust, Funds, real prices, replayed NAVs, baskets, APs and orders, and one login per role (no-op when loaded)."""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backoffice.exceptions import DomainError
from funds.services.demo import DEFAULT_REPLAY_DAYS, demo_load, format_logins


class Command(BaseCommand):
    help = "Load the demo data set (real prices of ~150 S&P 500 stocks; synthetic identifiers, Funds and quotes)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--replay-days", type=int, default=DEFAULT_REPLAY_DAYS,
            help=f"business days of NAVs to replay, ending 2021-04-21 (default {DEFAULT_REPLAY_DAYS})",
        )

    def handle(self, *args, replay_days, **options):
        from baskets.services.demo import demo_baskets_load  # the baskets app builds on the funds demo
        from orders.demo import demo_orders_load  # and the orders app on both

        started = time.monotonic()
        try:
            result = demo_load(replay_days=replay_days, stdout=self.stdout)
            baskets = demo_baskets_load(stdout=self.stdout)
            orders = demo_orders_load(stdout=self.stdout)
        except DomainError as error:
            raise CommandError(error.message) from None
        except ValidationError as error:  # e.g. a Fund named like a demo Fund already exists
            raise CommandError(f"the demo cannot be loaded into this database: {'; '.join(error.messages)}") from None
        if result.created:
            self.stdout.write(self.style.SUCCESS(
                f"Demo loaded in {time.monotonic() - started:.1f}s: NAVs {result.first_day} to {result.last_day}, "
                f"{baskets.get('baskets', 0)} Substitute Baskets, {orders.get('orders', 0)} orders."
            ))
        self.stdout.write("\nDemo logins (demo only; never use these passwords elsewhere):\n")
        self.stdout.write(format_logins(result.logins))
