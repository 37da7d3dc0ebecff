import io

import pytest
import time_machine
from django.core.management import CommandError, call_command

from baskets.models import ProxySpread, SubstituteBasket
from funds import business_calendar
from tests.baskets_fixtures import TRADE_DATE, before_open, market  # noqa: F401

pytestmark = pytest.mark.django_db


def test_publish_baskets_command_publishes_then_records_spreads(market):
    out = io.StringIO()
    with time_machine.travel(before_open(TRADE_DATE), tick=False):
        call_command("publish_baskets", "--date", TRADE_DATE.isoformat(), "--fund", "bskt", stdout=out)
    assert "BSKT" in out.getvalue() and "PUBLISHED" in out.getvalue() and "active share" in out.getvalue()
    assert SubstituteBasket.objects.filter(trade_date=TRADE_DATE).count() == 1
    out = io.StringIO()
    call_command("publish_baskets", "--date", TRADE_DATE.isoformat(), "--spreads", stdout=out)
    assert "RECORDED" in out.getvalue() and ProxySpread.objects.count() == 1


def test_publish_baskets_command_names_what_is_wrong(market):
    with pytest.raises(CommandError, match="unknown Fund ticker.*NOPE"):
        call_command("publish_baskets", "--fund", "NOPE")
    with pytest.raises(CommandError, match="not an NYSE business day"):
        call_command("publish_baskets", "--date", "2021-04-18")
    # a refused build exits non-zero after printing the named constraint
    next_day = business_calendar.next_business_day(business_calendar.next_business_day(TRADE_DATE))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 basket"):
        call_command("publish_baskets", "--date", next_day.isoformat(), stdout=out)
    assert "[prior-nav]" in out.getvalue()
