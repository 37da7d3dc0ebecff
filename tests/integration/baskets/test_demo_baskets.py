import datetime as dt
import io

import pytest

from baskets.models import BasketEvent, ProtectedSecurity, ProxySpread, SubstituteBasket
from baskets.services.demo import demo_baskets_load
from funds.services.demo import demo_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_publishes_every_replayed_days_basket_and_records_spreads():
    # given: 21 replayed business days ending 2021-04-21
    demo_load(replay_days=21)
    out = io.StringIO()
    # when
    result = demo_baskets_load(stdout=out)
    # then: a basket before each open from the second day on, plus the next business day's; none refused
    assert result == {"baskets": 42, "failed": 0}
    assert not BasketEvent.objects.filter(kind=BasketEvent.Kind.FAILED).exists()
    for ticker in ("DAGE", "DAVE"):
        baskets = SubstituteBasket.objects.filter(fund__ticker=ticker)
        assert baskets.count() == 21
        assert baskets.order_by("-trade_date").first().trade_date == dt.date(2021, 4, 22)
        assert ProxySpread.objects.filter(fund__ticker=ticker).count() == 20
        assert ProtectedSecurity.objects.filter(fund__ticker=ticker).exists()
        for basket in baskets:
            assert 5 <= basket.active_share_pct <= 30
            protected = set(ProtectedSecurity.objects.in_force(basket.trade_date).filter(fund=basket.fund).values_list("security_id", flat=True))
            assert not protected & set(basket.components.values_list("security_id", flat=True))
        latest = baskets.order_by("-trade_date").first()
        assert latest.tracking_error_pct is not None and latest.tracking_error_observations == 20
        assert latest.basket_overlap_pct is not None
    # idempotent
    assert demo_baskets_load()["baskets"] == 42
