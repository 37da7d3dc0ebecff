"""Condition A.9(c) records as CSV: one row per security exchanged (one row for a cash order).

Text cells are escaped against formula injection; amounts are written as plain numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Iterable

from backoffice.csv_safety import safe_text
from orders.models import CreationBasketRecord

COLUMNS = [
    "order_reference", "trade_date", "fund_ticker", "side", "creation_units", "authorized_participant", "dtc_participant_number",
    "basket_type", "alternate_basket", "alternate_basket_compliance_record", "ticker", "cusip", "description", "quantity",
    "weight_pct", "cash_in_lieu", "price", "market_value", "basket_value", "balancing_amount", "balancing_amount_paid_by",
    "cash_amount", "retain_until",
]


def record_rows(records: Iterable[CreationBasketRecord]) -> Iterable[list[str]]:
    for record in records:
        head = [
            safe_text(record.order.reference), record.trade_date.isoformat(), safe_text(record.fund.ticker), record.side,
            str(record.creation_units), safe_text(record.participant_name), safe_text(record.dtc_participant_number),
            record.basket_type, "yes" if record.is_alternate_basket else "no", safe_text(record.alternate_basket_compliance),
        ]
        tail = [str(record.basket_value), str(record.balancing_amount), record.balancing_amount_payer, str(record.cash_amount),
                record.retain_until.isoformat()]
        lines = list(record.lines.all())
        if not lines:
            yield head + ["", "", "All cash", "", "", "", "", ""] + tail
        for line in lines:
            yield head + [
                safe_text(line.ticker), safe_text(line.cusip), safe_text(line.description), str(line.quantity), str(line.weight_pct),
                "yes" if line.cash_in_lieu else "no", str(line.price), str(line.market_value),
            ] + tail


def records_csv(records: Iterable[CreationBasketRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(record_rows(records))
    return buffer.getvalue()
