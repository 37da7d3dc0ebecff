"""Orders on the small real market of ``tests.baskets_fixtures``.

``build_trading_day`` adds to it: the Substitute Basket of TRADE_DATE (2021-04-20) published
before the open, 12:00 ET snapshot prices for every security (the close of the day before x 1.002,
so Intra-Day and End of Day prices differ), Fund order terms, and two Authorized Participants,
each with an agreement in force and one API user. The End of Day NAV of TRADE_DATE is already
struck by the basket fixture; the Intra-Day NAV is struck by the tests that need it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from baskets.models import SubstituteBasket
from baskets.services import substitute_baskets_publish
from funds import business_calendar
from funds.models import DailyPrice, IntradaySnapshot
from orders import services
from orders.models import AuthorizedParticipant, FundOrderTerms
from tests.baskets_fixtures import PRIOR, TRADE_DATE, Market, before_open, build_market
from tests.factories import UserFactory

ET = business_calendar.NEW_YORK


def et(day: dt.date, hour: int, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    """An aware instant at a New York wall-clock time."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, microsecond, tzinfo=ET)


@dataclass
class TradingDay:
    market: Market
    basket: SubstituteBasket
    terms: FundOrderTerms
    ap_one: AuthorizedParticipant
    ap_two: AuthorizedParticipant
    user_one: object
    user_two: object

    @property
    def fund(self):
        return self.market.fund


def make_participant(actor, name: str, dtc: str, **fields) -> AuthorizedParticipant:
    participant = AuthorizedParticipant(
        legal_name=name, dtc_participant_number=dtc, contact_name=f"{name} desk", contact_email=f"desk{dtc}@example.com", **fields
    )
    return services.participant_save(actor=actor, participant=participant)


def make_agreement(actor, participant, *, version: int = 1, effective_from: dt.date = dt.date(2021, 1, 4)):
    document = SimpleUploadedFile(f"agreement_{participant.dtc_participant_number}.pdf", b"%PDF-1.4 signed " + participant.legal_name.encode())
    return services.agreement_add(
        actor=actor, participant=participant, version=version, signed_on=effective_from - dt.timedelta(days=3),
        effective_from=effective_from, document=document,
    )


def make_ap_user(actor, participant, username: str):
    user = UserFactory(username=username, is_staff=False)
    services.participant_user_bind(actor=actor, user=user, participant=participant)
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def add_intraday_snapshots(day: dt.date) -> None:
    """Synthetic 12:00 ET prices: the previous close x 1.002, to the cent."""
    previous = business_calendar.previous_business_day(day)
    closes = DailyPrice.objects.filter(date=previous).values_list("security_id", "close")
    taken_at = business_calendar.at_new_york(day, dt.time(12, 0))
    IntradaySnapshot.objects.bulk_create(
        [IntradaySnapshot(security_id=sid, date=day, price=(close * D("1.002")).quantize(D("0.01")), taken_at=taken_at)
         for sid, close in closes],
        ignore_conflicts=True,
    )


def build_trading_day(actor) -> TradingDay:
    market = build_market(actor)
    (outcome,) = substitute_baskets_publish(trade_date=TRADE_DATE, fund_ids=[market.fund.pk], actor=actor, now=before_open(TRADE_DATE))
    assert outcome.basket is not None, outcome
    add_intraday_snapshots(TRADE_DATE)
    terms = FundOrderTerms.objects.create(
        fund=market.fund, nscc_fixed_fee=D("250.00"), dtc_fixed_fee=D("750.00"), variable_fee_pct=D("0.0500"),
    )
    ap_one = make_participant(actor, "Alpha Clearing LLC", "0101")
    ap_two = make_participant(actor, "Beta Securities Inc.", "0202", nscc_member=False, nscc_process=False)
    make_agreement(actor, ap_one)
    make_agreement(actor, ap_two)
    user_one = make_ap_user(actor, ap_one, "alpha-trader")
    user_two = make_ap_user(actor, ap_two, "beta-trader")
    return TradingDay(market, outcome.basket, terms, ap_one, ap_two, user_one, user_two)


@pytest.fixture
def trading_day(actor):
    return build_trading_day(actor)


def module_trading_day_fixtures():
    """``trading_day`` built once per test module inside a transaction rolled back at its end; each test
    runs in its own savepoint and gets the objects refreshed. Use: ``_built_day, trading_day = module_trading_day_fixtures()``."""

    @pytest.fixture(scope="module")
    def _built_day(django_db_setup, django_db_blocker):
        from django.db import transaction

        from backoffice.audit import system_user

        with django_db_blocker.unblock(), transaction.atomic():
            built = build_trading_day(system_user())
            yield built
            transaction.set_rollback(True)

    @pytest.fixture
    def trading_day(_built_day, db):
        for instance in (_built_day.fund, _built_day.basket, _built_day.terms, _built_day.ap_one, _built_day.ap_two,
                         _built_day.user_one, _built_day.user_two):
            instance.refresh_from_db()
        return _built_day

    return _built_day, trading_day


def order_payload(fund: str = "BSKT", **overrides) -> dict:
    payload = {"fund": fund, "side": "CREATE", "creation_units": 2, "basket_type": "STANDARD", "settlement_channel": "NSCC"}
    payload.update(overrides)
    return payload


__all__ = ["PRIOR", "TRADE_DATE", "TradingDay", "build_trading_day", "client_for", "et", "order_payload", "roles"]
