"""The demo's Authorized Participants, agreements and a day of orders, through the real services.

Runs after the funds and baskets demos. Two APs sign agreements; the demo user ``ap`` acts for the
first. On the last replayed business day the APs send orders at recorded receipt times (before the
12:00 ET cut-off, in the afternoon, one after the close, one cancelled); the strike's pricing run
prices them at the NAVs already struck, and the morning after, Operations confirm settlement.
No-op when the demo APs exist.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction

from backoffice.audit import system_user
from baskets.models import SubstituteBasket
from funds import business_calendar
from funds.models import Fund, NetAssetValue, Strike
from funds.services.demo import DEMO_FUNDS
from orders import services
from orders.models import AuthorizedParticipant, FundOrderTerms, Order

DEMO_APS = (
    # legal name, DTC number, NSCC member/process, DTC process, demo username bound to it
    ("Demo Clearing Securities LLC", "0901", True, True, "ap"),
    ("Sample Markets Inc.", "0902", False, True, None),
)
AGREEMENT_TEXT = (
    "AUTHORIZED PARTICIPANT AGREEMENT (demo, synthetic)\n\n"
    "Between Demo Active ETF Trust, Demo Fund Distributors LLC and {name} (DTC participant {dtc}).\n"
    "The Participant may place orders for the purchase and redemption of Creation Units of the Funds through the "
    "NSCC Process or the DTC Process, in proper form, subject to the cut-off times and Transaction Fees of each Fund's "
    "prospectus. Version {version}, signed {signed}.\n"
)


def _et(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return business_calendar.at_new_york(day, dt.time(hour, minute))


def _place(ap, user, fund, side, units, basket_type, channel, received_at, key, alternate_basket_id=None) -> Order:
    request = services.OrderRequest(fund=fund.ticker, side=side, creation_units=units, basket_type=basket_type, settlement_channel=channel,
                                    alternate_basket_id=alternate_basket_id)
    return services.order_place(actor=user, participant=ap, request=request, idempotency_key=key, received_at=received_at).order


def _demo_alternate_basket(fund: Fund, day: dt.date):
    """pm drafts and submits an Alternate Basket before the open; pm2 approves it (four eyes); released at once."""
    from decimal import ROUND_HALF_UP

    from baskets.services import DraftLine, alternate_basket_approve, alternate_basket_draft, alternate_basket_submit

    users = get_user_model().objects
    drafter, approver = users.filter(username="pm").first(), users.filter(username="pm2").first()
    basket = SubstituteBasket.objects.filter(fund=fund, trade_date=day).order_by("-version").first()
    if drafter is None or approver is None or basket is None:
        return None
    lines = [DraftLine(c.security.ticker, (c.quantity * Decimal("0.99")).quantize(Decimal(1), rounding=ROUND_HALF_UP), True,
                       "Demo: no pending order flow in this name.")
             for c in basket.components.select_related("security").filter(cash_in_lieu=False)]
    alternate = alternate_basket_draft(
        actor=drafter, fund=fund, trade_date=day, purpose="BRING_IN", lines=lines, now=_et(day, 8, 30),
        rationale="Demo: take in the day's basket at 99% and the rest in cash while the Fund builds a position (synthetic).",
    )
    alternate = alternate_basket_submit(actor=drafter, basket=alternate, now=_et(day, 8, 35))
    return alternate_basket_approve(actor=approver, basket=alternate, now=_et(day, 8, 45), note="Demo approval.")


def demo_orders_load(*, stdout=None) -> dict:
    def say(message: str) -> None:
        if stdout:
            stdout.write(message + "\n")

    if AuthorizedParticipant.objects.filter(legal_name=DEMO_APS[0][0]).exists():
        say("Demo Authorized Participants already loaded: nothing to do.")
        return {"orders": Order.objects.count()}
    funds = {f.ticker: f for f in Fund.objects.filter(ticker__in=[spec.ticker for spec in DEMO_FUNDS])}
    if len(funds) != len(DEMO_FUNDS):
        return {"orders": 0}
    actor = system_user()
    users = get_user_model().objects
    day = NetAssetValue.objects.filter(fund__in=funds.values(), strike=Strike.END_OF_DAY).order_by("-date").values_list("date", flat=True).first()
    if day is None or not SubstituteBasket.objects.filter(fund__in=funds.values(), trade_date=day).exists():
        say("No replayed day with NAVs and baskets: demo orders skipped.")
        return {"orders": 0}
    launch = min(f.launch_date for f in funds.values())

    with transaction.atomic():
        for fund in funds.values():
            FundOrderTerms.objects.get_or_create(
                fund=fund, defaults={"nscc_fixed_fee": Decimal("250.00"), "dtc_fixed_fee": Decimal("500.00"),
                                     "variable_fee_pct": Decimal("0.0200"), "cash_order_cutoff": dt.time(15, 0)},
            )
        participants = []
        for name, dtc, nscc, dtc_process, username in DEMO_APS:
            ap = services.participant_save(actor=actor, participant=AuthorizedParticipant(
                legal_name=name, dtc_participant_number=dtc, nscc_member=nscc, nscc_process=nscc, dtc_process=dtc_process,
                contact_name="Creation/redemption desk", contact_email=f"desk{dtc}@example.com", operations_email=f"ops{dtc}@example.com",
            ))
            signed = launch - dt.timedelta(days=14)
            document = ContentFile(AGREEMENT_TEXT.format(name=name, dtc=dtc, version=1, signed=signed).encode(), name=f"ap_agreement_{dtc}_v1.txt")
            services.agreement_add(actor=actor, participant=ap, version=1, signed_on=signed, effective_from=launch, document=document)
            user = users.filter(username=username).first() if username else None
            if user is not None:
                services.participant_user_bind(actor=actor, user=user, participant=ap)
            participants.append((ap, user or actor))
        (first, first_user), (second, second_user) = participants
        dage, dave = funds["DAGE"], funds["DAVE"]
        # The second AP is a known 6% holder of DAGE: an affiliated person whose in-kind orders are marked.
        services.participant_holding_report(
            actor=actor, participant=second, fund=dage, as_of=business_calendar.previous_business_day(day),
            shares=(dage.shares_outstanding_entries.first().change * Decimal("0.06")).quantize(Decimal("1")),
        )

        alternate = _demo_alternate_basket(dage, day)
        services.cash_day_announce(
            actor=users.filter(username="ops").first() or actor, fund=dave, trade_date=day, applies_to="REDEMPTIONS", extent="WHOLLY",
            reason="Demo: the custodian cannot deliver DAVE's basket in kind today (synthetic).", now=_et(day, 8, 50),
        )

        tag = day.strftime("%Y%m%d")
        alternate_order = None
        if alternate is not None:
            alternate_order = _place(first, first_user, dage, "CREATE", 1, "ALTERNATE", "NSCC", _et(day, 10, 30), f"demo-{tag}-7",
                                     alternate_basket_id=alternate.pk)
        morning = _place(first, first_user, dage, "CREATE", 2, "STANDARD", "NSCC", _et(day, 10, 5), f"demo-{tag}-1")
        afternoon = _place(first, first_user, dave, "REDEEM", 1, "STANDARD", "NSCC", _et(day, 13, 30), f"demo-{tag}-2")
        cash = _place(second, second_user, dage, "CREATE", 1, "CASH", "DTC", _et(day, 14, 10), f"demo-{tag}-3")
        affiliated_in_kind = _place(second, second_user, dage, "REDEEM", 1, "STANDARD", "DTC", _et(day, 14, 45), f"demo-{tag}-4")
        cancelled = _place(first, first_user, dave, "CREATE", 1, "STANDARD", "NSCC", _et(day, 11, 0), f"demo-{tag}-5")
        services.order_cancel(actor=first_user, order=cancelled, now=_et(day, 11, 10))
        late = _place(first, first_user, dave, "CREATE", 1, "STANDARD", "NSCC", _et(day, 16, 5), f"demo-{tag}-6")

        outcomes = services.orders_price_due(actor=actor, now=_et(day, 16, 20))
        settle_on = business_calendar.next_business_day(day)
        for order in (morning, afternoon) + ((alternate_order,) if alternate_order else ()):
            services.order_settle(actor=actor, order=order, settled_on=settle_on, now=_et(settle_on, 9, 0))

    priced = sum(len(o.priced) for o in outcomes)
    say(f"An Alternate Basket for DAGE approved by pm2 and released; DAVE redemptions wholly in cash on {day}.")
    say(f"2 Authorized Participants with agreements; {Order.objects.count()} demo orders on {day} ({priced} priced, 3 settled {settle_on}, "
        f"1 cancelled, 1 rejected after the close: {late.rejection_reason}); {cash.reference} is all cash, "
        f"{affiliated_in_kind.reference} is an affiliated AP's in-kind redemption.")
    return {"orders": Order.objects.count(), "priced": priced}
