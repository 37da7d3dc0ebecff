"""Verify the Publication hash chain: every payload hash and every link, in sequence order."""

from django.core.management.base import BaseCommand, CommandError

from baskets import selectors


class Command(BaseCommand):
    help = (
        "Recompute each Publication's payload SHA-256 and its chain link from the previous row; exit 0 if the chain "
        "is intact, else exit 1 naming the first broken row (sequence, kind, fund, what differs)."
    )

    def handle(self, *args, **options):
        report = selectors.publication_chain_verify()
        if not report.intact:
            raise CommandError(f"Publication chain BROKEN after {report.count} intact publication(s): {report.broken}")
        self.stdout.write(f"{report.count} publications, chain intact, head {report.head}")
