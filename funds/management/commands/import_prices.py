"""Import daily closes or 12:00 ET snapshots from a CSV (or .csv.gz) file: all rows or none."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backoffice.audit import system_user
from funds.exceptions import PriceImportError
from funds.models import PriceSource
from funds.services.prices import daily_prices_import, intraday_snapshots_import

PRINTED_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import daily prices (date,ticker,close[,adj_close],volume) or, with --snapshots, 12:00 ET "
        "snapshots (date,ticker,price). Every row is checked first; any error and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, or .csv.gz")
        parser.add_argument("--snapshots", action="store_true", help="the file holds 12:00 ET snapshots (date,ticker,price)")
        parser.add_argument("--source", choices=PriceSource.values, default=PriceSource.VENDOR, help="default VENDOR")

    def handle(self, *args, path, snapshots, source, **options):
        if not Path(path).is_file():
            raise CommandError(f"no such file: {path}")
        importer = intraday_snapshots_import if snapshots else daily_prices_import
        try:
            result = importer(file=path, source=source, actor=system_user(), progress=True)
        except PriceImportError as error:
            details = error.details or []
            for item in details[:PRINTED_ERRORS]:
                self.stderr.write(f"line {item['line']}: {item['error']}")
            if len(details) > PRINTED_ERRORS:
                self.stderr.write(f"... and {len(details) - PRINTED_ERRORS:,} more")
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(result.summary()))
