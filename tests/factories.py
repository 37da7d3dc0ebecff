"""factory_boy factories. Identifiers are generated with valid check digits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from funds.identifiers import synthetic_cusip
from funds.models import Adviser, AssetClass, Distributor, Fund, Security, Trust


def make_cusip(n: int, prefix: str = "Z") -> str:
    return synthetic_cusip(prefix, n)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or []:
            self.groups.add(Group.objects.get(name=name))


class TrustFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trust

    name = factory.Sequence(lambda n: f"Test ETF Trust {n}")


class AdviserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Adviser

    name = factory.Sequence(lambda n: f"Test Adviser {n} LLC")


class DistributorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Distributor

    name = factory.Sequence(lambda n: f"Test Distributors {n} LLC")


class FundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fund

    trust = factory.SubFactory(TrustFactory)
    adviser = factory.SubFactory(AdviserFactory)
    distributor = factory.SubFactory(DistributorFactory)
    name = factory.Sequence(lambda n: f"Test Active ETF {n}")
    ticker = factory.Sequence(lambda n: f"TF{n}")
    cusip = factory.Sequence(lambda n: make_cusip(n, "F"))
    creation_unit_size = 5_000
    launch_date = dt.date(2020, 1, 2)
    initial_price = Decimal("25.0000")


class SecurityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Security

    ticker = factory.Sequence(lambda n: f"S{n}")
    cusip = factory.Sequence(lambda n: make_cusip(n, "S"))
    description = factory.LazyAttribute(lambda o: f"{o.ticker} common stock")
    asset_class = AssetClass.COMMON_STOCK
    exchange = "XNYS"
    round_lot = 100
    average_daily_volume = 1_000_000
    identifiers_synthetic = True
