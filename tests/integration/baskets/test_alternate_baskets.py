"""Alternate Baskets (section III.B.5.c, footnotes 40-41, condition A.10) and the Publication hash chain
(conditions A.8-A.9), through the services of ``baskets/services/alternate.py`` and ``dissemination.py``.

The trading day (BSKT, Creation Unit 25,000, 2021-04-20 with its Substitute Basket published, so one
Publication exists) is built once for the module inside a transaction rolled back at its end; each test
runs in its own savepoint. A valid Alternate Basket is the day's Substitute Basket with every quantity
x 0.99: securities just under NAV per Creation Unit, a small active share, no Protected Security.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from django.core.exceptions import ValidationError

from backoffice import roles
from backoffice.audit import system_user
from backoffice.exceptions import InvalidInput, InvalidTransition
from baskets.models import (
    GENESIS_SHA256,
    AlternateBasket,
    AlternateBasketComponent,
    AlternateBasketEvent,
    BasketPolicy,
    Publication,
    PublicationChainHead,
)
from baskets.services.alternate import (
    DraftLine,
    FourEyesViolation,
    alternate_basket_approve,
    alternate_basket_draft,
    alternate_basket_reject,
    alternate_basket_revise,
    alternate_basket_submit,
    alternate_basket_usable,
    alternate_baskets_release_due,
)
from baskets.services.dissemination import canonical_json, chain_hash, sha256_hex
from funds import business_calendar
from funds.models import Security
from tests.factories import FundFactory, SecurityFactory, UserFactory
from tests.orders_fixtures import TRADE_DATE, et, module_trading_day_fixtures

pytestmark = pytest.mark.django_db

S = AlternateBasket.Status
NEXT_DAY = dt.date(2021, 4, 21)  # a business day with no Substitute Basket published
SATURDAY = dt.date(2021, 4, 24)
MORNING = et(TRADE_DATE, 8, 30)
RATIONALE = "Bring in a position the Fund is building without showing it to the market in size."

_built_day, trading_day = module_trading_day_fixtures()


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture
def approver(db):
    return UserFactory(roles=[roles.PORTFOLIO_MANAGER])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def substitute_lines(day, factor: str = "0.99", *, attested: bool = True) -> list[DraftLine]:
    """The day's Substitute Basket (cash-in-lieu lines left out), each quantity x ``factor`` to whole shares."""
    components = day.basket.components.select_related("security").filter(cash_in_lieu=False).order_by("security__ticker")
    return [
        DraftLine(c.security.ticker, (c.quantity * D(factor)).quantize(D(1), rounding=ROUND_HALF_UP), attested,
                  "no order flow in this name" if attested else "")
        for c in components
    ]


def outside_tickers(day) -> list[str]:
    """Securities of the market that the Fund does not hold (so neither protected nor in the basket)."""
    return [t for t in sorted(day.market.securities) if t not in day.market.held]


def draft(day, lines=None, *, actor=None, trade_date=TRADE_DATE, now=MORNING, rationale=RATIONALE,
          purpose=AlternateBasket.Purpose.BRING_IN) -> AlternateBasket:
    return alternate_basket_draft(actor=actor or day.market.pm, fund=day.fund, trade_date=trade_date, purpose=purpose,
                                  rationale=rationale, lines=substitute_lines(day) if lines is None else lines, now=now)


def submitted(day, lines=None, *, now=MORNING) -> AlternateBasket:
    basket = draft(day, lines, now=now)
    return alternate_basket_submit(actor=day.market.pm, basket=basket, now=now + dt.timedelta(minutes=1))


def approved(day, approver, *, release_at=None, now=None) -> AlternateBasket:
    basket = submitted(day)
    return alternate_basket_approve(actor=approver, basket=basket, release_at=release_at, now=now or et(TRADE_DATE, 8, 40))


def policy(day) -> BasketPolicy:
    return BasketPolicy.objects.get(fund=day.fund)


def assert_draft_refused(day, lines, *match: str, **kwargs) -> InvalidInput:
    before = (AlternateBasket.objects.count(), AlternateBasketComponent.objects.count(), AlternateBasketEvent.objects.count())
    with pytest.raises(InvalidInput) as refused:
        draft(day, lines, **kwargs)
    for text in match:
        assert text in refused.value.message, refused.value.message
    after = (AlternateBasket.objects.count(), AlternateBasketComponent.objects.count(), AlternateBasketEvent.objects.count())
    assert after == before
    return refused.value


def assert_submit_refused(day, basket, *failed_checks: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        alternate_basket_submit(actor=day.market.pm, basket=basket, now=et(TRADE_DATE, 8, 31))
    failed = [c["check"] for c in refused.value.details["checks"] if not c["passed"]]
    for name in failed_checks:
        assert any(name in check for check in failed), (name, failed)
        assert name in refused.value.message
    basket.refresh_from_db()
    assert basket.status == S.DRAFT and basket.check_report == {} and basket.check_report_sha256 == ""
    assert basket.submitted_by is None and basket.value_per_creation_unit is None
    assert list(basket.events.values_list("from_status", "to_status")) == [("", S.DRAFT)]
    return refused.value


def failed_checks(error: InvalidInput) -> list[str]:
    return [c["check"] for c in error.details["checks"] if not c["passed"]]


# --- bad input: refused, the offending line named, nothing written -----------------------------------------


def test_a_protected_security_is_refused_by_name(trading_day):
    # given: a valid basket plus one of the Fund's Protected Securities (footnote 40)
    protected = trading_day.market.protected[0]
    lines = substitute_lines(trading_day) + [DraftLine(protected, D(100), True)]
    # when / then
    error = assert_draft_refused(trading_day, lines, f"line {len(lines)} ({protected})", "Protected Security", "footnote 40")
    assert len(error.details["lines"]) == 1


def test_a_security_that_is_not_active_is_not_a_permissible_investment(trading_day):
    # given
    ticker = outside_tickers(trading_day)[0]
    security = Security.objects.get(ticker=ticker)
    security.is_active = False
    security.save()
    # when / then
    assert_draft_refused(trading_day, [DraftLine(ticker, D(100), True)], f"line 1 ({ticker})", "not a Permissible Investment")


def test_an_asset_class_outside_the_permissible_investments_is_refused(trading_day):
    # given: an asset class the application does not list (a raw update: the choices would refuse it)
    ticker = outside_tickers(trading_day)[1]
    Security.objects.filter(ticker=ticker).update(asset_class="CRYPTO_TOKEN")
    lines = substitute_lines(trading_day)[:2] + [DraftLine(ticker, D(100), True)]
    # when / then
    assert_draft_refused(trading_day, lines, f"line 3 ({ticker})", "not a Permissible Investment")


def test_an_unknown_ticker_is_refused(trading_day):
    lines = [DraftLine("zzzz", D(100), True)] + substitute_lines(trading_day)[:1]
    assert_draft_refused(trading_day, lines, "line 1 (ZZZZ)", "unknown ticker 'ZZZZ'")


@pytest.mark.parametrize("quantity", [D(0), D(-5)])
def test_a_quantity_that_is_not_positive_is_refused(trading_day, quantity):
    lines = substitute_lines(trading_day)
    lines[1] = DraftLine(lines[1].ticker, quantity, True)
    assert_draft_refused(trading_day, lines, f"line 2 ({lines[1].ticker})", "must be positive", f"not {quantity}")


def test_a_ticker_twice_is_refused(trading_day):
    lines = substitute_lines(trading_day)
    # the same ticker again, in lower case and padded: it is the same security
    duplicate = DraftLine(f" {lines[0].ticker.lower()} ", D(10), True)
    lines.append(duplicate)
    assert_draft_refused(trading_day, lines, f"line {len(lines)} ({lines[0].ticker})", "appears more than once")


def test_no_lines_are_refused(trading_day):
    assert_draft_refused(trading_day, [], "at least one line")


def test_every_offending_line_is_named_at_once(trading_day):
    # given: three bad lines among good ones
    good = substitute_lines(trading_day)[:3]
    lines = [good[0], DraftLine("NOPE", D(1), True), good[1], DraftLine(good[2].ticker, D(0), True), DraftLine(trading_day.market.protected[1], D(5), True)]
    # when / then
    error = assert_draft_refused(trading_day, lines, "line 2 (NOPE)", f"line 4 ({good[2].ticker})", f"line 5 ({trading_day.market.protected[1]})")
    assert len(error.details["lines"]) == 3


def test_a_day_that_is_not_a_business_day_is_refused(trading_day):
    assert_draft_refused(trading_day, None, "2021-04-24 is not a business day", trade_date=SATURDAY)


def test_a_past_trade_date_is_refused(trading_day):
    assert_draft_refused(trading_day, None, "is in the past", trade_date=dt.date(2021, 4, 19))


@pytest.mark.parametrize("rationale", ["", "   "])
def test_a_rationale_is_required(trading_day, rationale):
    assert_draft_refused(trading_day, None, "rationale", rationale=rationale)


def test_an_unknown_purpose_is_refused(trading_day):
    assert_draft_refused(trading_day, None, "purpose", purpose="SWAP")


def test_a_valid_draft_stores_its_lines_and_one_event(trading_day):
    # when
    lines = substitute_lines(trading_day)
    basket = draft(trading_day, lines)
    # then
    assert basket.status == S.DRAFT and basket.drafted_by == trading_day.market.pm and basket.drafted_at == MORNING
    stored = list(basket.components.select_related("security").values_list("security__ticker", "quantity", "no_front_running_risk"))
    assert stored == [(line.ticker, line.quantity, True) for line in lines]
    (event,) = basket.events.all()
    assert (event.from_status, event.to_status, event.actor, event.at) == ("", S.DRAFT, trading_day.market.pm, MORNING)


# --- policy checks at submission ------------------------------------------------------------------------------


def test_a_value_above_nav_per_creation_unit_fails(trading_day):
    # given: securities worth more than NAV per Creation Unit (the cash line would be negative)
    basket = draft(trading_day, substitute_lines(trading_day, "1.10"))
    # when / then: refused as a policy failure (the active share cannot be measured against negative cash)
    error = assert_submit_refused(trading_day, basket, "value within tolerance of NAV per Creation Unit")
    assert failed_checks(error) == ["value within tolerance of NAV per Creation Unit (cash makes up the rest)",
                                    "active share against the day's Substitute Basket"]
    (active,) = [c for c in error.details["checks"] if c["check"].startswith("active share")]
    assert "not computed" in active["detail"][0]


def test_a_value_more_than_the_tolerance_below_nav_fails(trading_day):
    basket = draft(trading_day, substitute_lines(trading_day, "0.80"))
    error = assert_submit_refused(trading_day, basket, "value within tolerance of NAV per Creation Unit")
    assert failed_checks(error) == ["value within tolerance of NAV per Creation Unit (cash makes up the rest)"]


def test_the_value_tolerance_comes_from_the_policy(trading_day):
    # given: 0.80 of the basket is inside a 25% tolerance
    BasketPolicy.objects.filter(fund=trading_day.fund).update(alternate_value_tolerance_pct=D("25.00"))
    basket = draft(trading_day, substitute_lines(trading_day, "0.80"))
    # when
    basket = alternate_basket_submit(actor=trading_day.market.pm, basket=basket, now=et(TRADE_DATE, 8, 31))
    # then
    assert basket.status == S.SUBMITTED and basket.check_report["policy"]["value_tolerance_pct"] == "25.00"


def test_an_active_share_above_the_policy_maximum_fails(trading_day):
    # given: the policy maximum set just below this basket's active share
    probe = submitted(trading_day)
    active = D(probe.check_report["active_share_pct"])
    assert D(0) < active < D(5)
    BasketPolicy.objects.filter(fund=trading_day.fund).update(alternate_max_active_share_pct=(active - D("0.01")).quantize(D("0.01")))
    basket = draft(trading_day)
    # when / then
    error = assert_submit_refused(trading_day, basket, "active share against the day's Substitute Basket")
    assert failed_checks(error) == ["active share against the day's Substitute Basket"]


def test_a_basket_of_other_names_has_a_large_active_share(trading_day):
    # given: securities the Fund does not hold, worth about NAV per Creation Unit
    from funds.models import DailyPrice

    nav = trading_day.basket.nav_per_creation_unit
    tickers = outside_tickers(trading_day)[:10]
    closes = dict(DailyPrice.objects.filter(date=dt.date(2021, 4, 19), security__ticker__in=tickers).values_list("security__ticker", "close"))
    lines = [DraftLine(t, (nav * D("0.098") / closes[t]).quantize(D(1)), True) for t in tickers]
    basket = draft(trading_day, lines)
    # when / then: nothing in common with the Substitute Basket -> active share near 100% > 30%
    error = assert_submit_refused(trading_day, basket, "active share against the day's Substitute Basket")
    assert failed_checks(error) == ["active share against the day's Substitute Basket"]


def test_too_few_names_fail(trading_day):
    lines = substitute_lines(trading_day)
    BasketPolicy.objects.filter(fund=trading_day.fund).update(alternate_min_names=len(lines) + 1)
    basket = draft(trading_day, lines)
    error = assert_submit_refused(trading_day, basket, "name count")
    assert failed_checks(error) == ["name count"]


def test_too_many_names_fail(trading_day):
    lines = substitute_lines(trading_day)
    BasketPolicy.objects.filter(fund=trading_day.fund).update(alternate_max_names=len(lines) - 1)
    basket = draft(trading_day, lines)
    error = assert_submit_refused(trading_day, basket, "name count")
    assert failed_checks(error) == ["name count"]


def test_exactly_the_name_limits_pass(trading_day):
    lines = substitute_lines(trading_day)
    BasketPolicy.objects.filter(fund=trading_day.fund).update(alternate_min_names=len(lines), alternate_max_names=len(lines))
    basket = submitted(trading_day, lines)
    assert basket.status == S.SUBMITTED


def test_one_line_without_attestation_fails(trading_day):
    lines = substitute_lines(trading_day)
    lines[2] = DraftLine(lines[2].ticker, lines[2].quantity, False)
    basket = draft(trading_day, lines)
    error = assert_submit_refused(trading_day, basket, "attestation")
    (check,) = [c for c in error.details["checks"] if not c["passed"]]
    assert check["detail"] == [f"{lines[2].ticker}: not attested"]


def test_no_substitute_basket_for_the_day_fails(trading_day):
    # given: a draft for the next business day, whose Substitute Basket is not published
    basket = draft(trading_day, trade_date=NEXT_DAY)
    # when / then
    with pytest.raises(InvalidInput) as refused:
        alternate_basket_submit(actor=trading_day.market.pm, basket=basket, now=et(TRADE_DATE, 9, 0))
    assert failed_checks(refused.value) == ["Substitute Basket of the day published"]
    assert "no Substitute Basket for 2021-04-21" in refused.value.message
    basket.refresh_from_db()
    assert basket.status == S.DRAFT and basket.events.count() == 1


def test_a_security_without_a_prior_close_fails(trading_day):
    # given: a permissible security with no close on 2021-04-19
    fresh = SecurityFactory(ticker="NEWCO", description="NewCo Inc.")
    lines = substitute_lines(trading_day) + [DraftLine("NEWCO", D(10), True)]
    basket = draft(trading_day, lines)
    # when / then
    error = assert_submit_refused(trading_day, basket, "readily available quotation (close of 2021-04-19)")
    (check,) = [c for c in error.details["checks"] if not c["passed"]]
    assert check["detail"] == [f"{fresh.ticker}: no close"]


def test_a_security_protected_after_drafting_fails_at_submission(trading_day, actor):
    # given: a draft, then one of its names is designated a Protected Security
    from baskets.services import protected_security_designate

    lines = substitute_lines(trading_day)
    basket = draft(trading_day, lines)
    protected_security_designate(fund_id=trading_day.fund.pk, security_id=trading_day.market.securities[lines[0].ticker].pk,
                                 effective_from=TRADE_DATE, reason="now buying", actor=trading_day.market.pm)
    # when / then
    assert_submit_refused(trading_day, basket, "lines (known, positive, permissible, not protected)")


# --- a passing submission -------------------------------------------------------------------------------------


def test_a_passing_submission_stores_the_check_report_and_its_hash(trading_day):
    # given
    lines = substitute_lines(trading_day)
    basket = draft(trading_day, lines)
    at = et(TRADE_DATE, 8, 31)
    # when
    basket = alternate_basket_submit(actor=trading_day.market.pm, basket=basket, now=at)
    # then
    basket.refresh_from_db()
    report = basket.check_report
    assert basket.status == S.SUBMITTED and basket.submitted_by == trading_day.market.pm and basket.submitted_at == at
    assert report["passed"] is True and report["checked_at"] == at.isoformat()
    assert [c["check"] for c in report["checks"]] == [
        "lines (known, positive, permissible, not protected)",
        "attestation: no front-running or free-riding risk for each security",
        "name count",
        "readily available quotation (close of 2021-04-19)",
        "value within tolerance of NAV per Creation Unit (cash makes up the rest)",
        "active share against the day's Substitute Basket",
    ]
    assert all(c["passed"] for c in report["checks"])
    # value = quantity x prior close; cash = NAV per Creation Unit - value (to the cent)
    from funds.models import DailyPrice

    closes = dict(DailyPrice.objects.filter(date=dt.date(2021, 4, 19)).values_list("security__ticker", "close"))
    value = sum((line.quantity * closes[line.ticker] for line in lines), D(0)).quantize(D("0.01"), ROUND_HALF_UP)
    nav = trading_day.basket.nav_per_creation_unit
    assert basket.value_per_creation_unit == value == D(report["value_per_creation_unit"])
    assert basket.cash_per_creation_unit == (nav - value).quantize(D("0.01"), ROUND_HALF_UP) == D(report["cash_per_creation_unit"])
    assert D("0.95") * nav <= value <= nav
    assert report["nav_per_creation_unit"] == str(nav) and report["substitute_basket_id"] == trading_day.basket.pk
    assert report["prices_as_of"] == "2021-04-19"
    # the report's hash, over its canonical JSON, as read back from the database
    assert basket.check_report_sha256 == sha256(canonical_json(report).encode("utf-8"))
    submit_event = basket.events.get(to_status=S.SUBMITTED)
    assert submit_event.details == {"check_report_sha256": basket.check_report_sha256}


def test_submitting_twice_is_refused(trading_day):
    basket = submitted(trading_day)
    with pytest.raises(InvalidTransition, match="only a draft can be submitted"):
        alternate_basket_submit(actor=trading_day.market.pm, basket=basket, now=et(TRADE_DATE, 8, 35))


# --- four eyes -----------------------------------------------------------------------------------------------


def test_the_drafter_cannot_approve_their_own_basket(trading_day):
    basket = submitted(trading_day)
    with pytest.raises(FourEyesViolation) as refused:
        alternate_basket_approve(actor=trading_day.market.pm, basket=basket, now=et(TRADE_DATE, 8, 40))
    assert isinstance(refused.value, InvalidTransition)
    assert refused.value.code == "four_eyes" and refused.value.http_status == 409
    assert refused.value.as_dict()["code"] == "four_eyes"
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.decided_by is None and basket.release_at is None
    assert not Publication.objects.filter(alternate_basket=basket).exists()


def test_the_drafter_cannot_reject_their_own_basket(trading_day):
    basket = submitted(trading_day)
    with pytest.raises(FourEyesViolation):
        alternate_basket_reject(actor=trading_day.market.pm, basket=basket, note="on reflection, no", now=et(TRADE_DATE, 8, 40))
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.decision_note == ""


def test_another_portfolio_manager_approves_once(trading_day, approver):
    # given
    basket = submitted(trading_day)
    at = et(TRADE_DATE, 8, 40)
    # when
    basket = alternate_basket_approve(actor=approver, basket=basket, note="  fine  ", now=at)
    # then
    basket.refresh_from_db()
    assert (basket.decided_by, basket.decided_at, basket.decision_note) == (approver, at, "fine")
    # a second approval, by anyone, is refused and publishes nothing more
    publications = Publication.objects.count()
    other = UserFactory(roles=[roles.PORTFOLIO_MANAGER])
    for who in (approver, other):
        with pytest.raises(InvalidTransition, match="only a submitted basket can be decided"):
            alternate_basket_approve(actor=who, basket=basket, now=et(TRADE_DATE, 8, 45))
    assert Publication.objects.count() == publications


def test_a_draft_cannot_be_approved_or_rejected(trading_day, approver):
    basket = draft(trading_day)
    with pytest.raises(InvalidTransition) as refused:
        alternate_basket_approve(actor=approver, basket=basket, now=et(TRADE_DATE, 8, 40))
    assert not isinstance(refused.value, FourEyesViolation) and refused.value.details == {"status": S.DRAFT}
    with pytest.raises(InvalidTransition):
        alternate_basket_reject(actor=approver, basket=basket, note="no", now=et(TRADE_DATE, 8, 40))
    basket.refresh_from_db()
    assert basket.status == S.DRAFT and not Publication.objects.filter(alternate_basket=basket).exists()


def test_a_draft_can_be_revised_until_it_is_submitted(trading_day, approver):
    # given
    basket = draft(trading_day)
    fewer = substitute_lines(trading_day)[:-1] + [DraftLine(substitute_lines(trading_day)[-1].ticker, D(1), True)]
    # when
    basket = alternate_basket_revise(actor=trading_day.market.pm, basket=basket, lines=fewer, rationale="revised reason",
                                     purpose=AlternateBasket.Purpose.DELIVER_OUT, now=et(TRADE_DATE, 8, 35))
    # then
    basket.refresh_from_db()
    assert basket.rationale == "revised reason" and basket.purpose == AlternateBasket.Purpose.DELIVER_OUT
    assert list(basket.components.values_list("security__ticker", "quantity")) == [(line.ticker, line.quantity) for line in fewer]
    assert list(basket.events.values_list("from_status", "to_status")) == [("", S.DRAFT), (S.DRAFT, S.DRAFT)]


def test_a_revision_with_a_bad_line_changes_nothing(trading_day):
    basket = draft(trading_day)
    before = list(basket.components.values_list("security__ticker", "quantity"))
    with pytest.raises(InvalidInput, match="line 1"):
        alternate_basket_revise(actor=trading_day.market.pm, basket=basket, lines=[DraftLine(trading_day.market.protected[0], D(1), True)],
                                now=et(TRADE_DATE, 8, 35))
    assert list(basket.components.values_list("security__ticker", "quantity")) == before and basket.events.count() == 1


def test_a_revision_with_an_unknown_purpose_is_refused(trading_day):
    basket = draft(trading_day)
    with pytest.raises(InvalidInput, match="purpose"):
        alternate_basket_revise(actor=trading_day.market.pm, basket=basket, lines=substitute_lines(trading_day), purpose="SWAP",
                                now=et(TRADE_DATE, 8, 35))
    basket.refresh_from_db()
    assert basket.purpose == AlternateBasket.Purpose.BRING_IN and basket.events.count() == 1


@pytest.mark.parametrize("stage", ["submitted", "approved", "rejected"])
def test_nothing_changes_after_submission(trading_day, approver, stage):
    # given
    basket = submitted(trading_day)
    if stage == "approved":
        basket = alternate_basket_approve(actor=approver, basket=basket, now=et(TRADE_DATE, 8, 40))
    elif stage == "rejected":
        basket = alternate_basket_reject(actor=approver, basket=basket, note="not today", now=et(TRADE_DATE, 8, 40))
    components = list(basket.components.values_list("security__ticker", "quantity"))
    # when / then: a change after submission (or approval) would be a basket nobody checked or approved
    with pytest.raises(InvalidTransition, match="only a draft can be changed"):
        alternate_basket_revise(actor=trading_day.market.pm, basket=basket, lines=substitute_lines(trading_day, "0.98"),
                                rationale="changed after the decision", now=et(TRADE_DATE, 8, 50))
    basket.refresh_from_db()
    assert basket.rationale == RATIONALE and list(basket.components.values_list("security__ticker", "quantity")) == components


@pytest.mark.parametrize("note", ["", "  "])
def test_a_rejection_needs_a_note(trading_day, approver, note):
    basket = submitted(trading_day)
    with pytest.raises(InvalidInput, match="note"):
        alternate_basket_reject(actor=approver, basket=basket, note=note, now=et(TRADE_DATE, 8, 40))
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED


def test_a_rejection_by_another_person_is_recorded_and_publishes_nothing(trading_day, approver):
    basket = submitted(trading_day)
    publications = Publication.objects.count()
    at = et(TRADE_DATE, 8, 40)
    basket = alternate_basket_reject(actor=approver, basket=basket, note=" too concentrated ", now=at)
    basket.refresh_from_db()
    assert basket.status == S.REJECTED and (basket.decided_by, basket.decided_at, basket.decision_note) == (approver, at, "too concentrated")
    assert basket.release_at is None and Publication.objects.count() == publications
    event = basket.events.get(to_status=S.REJECTED)
    assert (event.from_status, event.actor, event.message) == (S.SUBMITTED, approver, "Rejected: too concentrated")


# --- approval commits one Publication -------------------------------------------------------------------------


def test_approval_without_release_time_disseminates_at_once(trading_day, approver):
    # given
    basket = submitted(trading_day)
    at = et(TRADE_DATE, 8, 40)
    publications = Publication.objects.count()
    # when
    basket = alternate_basket_approve(actor=approver, basket=basket, now=at)
    # then
    basket.refresh_from_db()
    assert basket.status == S.DISSEMINATED and basket.release_at == at
    assert Publication.objects.count() == publications + 1
    (publication,) = Publication.objects.filter(alternate_basket=basket)
    assert publication.kind == Publication.Kind.ALTERNATE_BASKET and publication.fund == trading_day.fund
    assert publication.trade_date == TRADE_DATE and publication.release_at == at
    assert publication.created_at == at and publication.created_by == approver


def test_approval_with_a_future_release_time_waits_for_it(trading_day, approver):
    # given
    basket = submitted(trading_day)
    release_at = et(TRADE_DATE, 10, 0)
    # when
    basket = alternate_basket_approve(actor=approver, basket=basket, release_at=release_at, now=et(TRADE_DATE, 8, 40))
    # then: approved, published with its release time, not yet disseminated
    basket.refresh_from_db()
    assert basket.status == S.APPROVED and basket.release_at == release_at
    (publication,) = Publication.objects.filter(alternate_basket=basket)
    assert publication.release_at == release_at
    assert json.loads(publication.payload)["release_at"] == "2021-04-20T14:00:00.000000Z"
    # before the release time nothing changes; at it, the basket is disseminated
    assert alternate_baskets_release_due(actor=system_user(), now=release_at - dt.timedelta(microseconds=1)) == []
    basket.refresh_from_db()
    assert basket.status == S.APPROVED
    changed = alternate_baskets_release_due(actor=system_user(), now=release_at)
    assert [b.pk for b in changed] == [basket.pk]
    basket.refresh_from_db()
    assert basket.status == S.DISSEMINATED
    event = basket.events.get(to_status=S.DISSEMINATED)
    assert (event.from_status, event.actor, event.at) == (S.APPROVED, system_user(), release_at)
    # idempotent: running again changes nothing and publishes nothing
    publications = Publication.objects.count()
    assert alternate_baskets_release_due(actor=system_user(), now=release_at + dt.timedelta(minutes=5)) == []
    assert Publication.objects.count() == publications


def test_a_release_time_in_the_past_is_not_back_dated(trading_day, approver):
    basket = submitted(trading_day)
    at = et(TRADE_DATE, 8, 40)
    basket = alternate_basket_approve(actor=approver, basket=basket, release_at=et(TRADE_DATE, 7, 0), now=at)
    basket.refresh_from_db()
    assert basket.status == S.DISSEMINATED and basket.release_at == at
    assert Publication.objects.get(alternate_basket=basket).release_at == at


@pytest.mark.parametrize("release_at", [business_calendar.session_close(TRADE_DATE), et(TRADE_DATE, 17, 0)])
def test_a_release_time_at_or_after_the_close_is_refused(trading_day, approver, release_at):
    basket = submitted(trading_day)
    publications = Publication.objects.count()
    with pytest.raises(InvalidInput, match="before the close"):
        alternate_basket_approve(actor=approver, basket=basket, release_at=release_at, now=et(TRADE_DATE, 8, 40))
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.release_at is None and basket.decided_by is None
    assert Publication.objects.count() == publications
    assert not basket.events.filter(to_status=S.APPROVED).exists()


def test_the_publication_carries_the_components_and_nothing_confidential(trading_day, approver):
    # given
    lines = substitute_lines(trading_day)
    basket = approved(trading_day, approver)
    publication = Publication.objects.get(alternate_basket=basket)
    # then: the exact bytes and their hash
    assert publication.payload_sha256 == sha256(publication.payload.encode("utf-8")) == sha256(publication.payload_bytes)
    assert publication.payload == canonical_json(json.loads(publication.payload))
    payload = json.loads(publication.payload)
    assert payload["kind"] == "ALTERNATE_BASKET" and payload["fund"] == "BSKT" and payload["trade_date"] == "2021-04-20"
    assert payload["alternate_basket_id"] == basket.pk and payload["creation_unit_size"] == 25_000
    assert payload["value_per_creation_unit"] == str(basket.value_per_creation_unit)
    assert payload["estimated_cash_per_creation_unit"] == str(basket.cash_per_creation_unit)
    securities = trading_day.market.securities
    assert payload["components"] == [
        {"ticker": line.ticker, "cusip": securities[line.ticker].cusip, "description": securities[line.ticker].description,
         "quantity": str(basket.components.get(security__ticker=line.ticker).quantity)}
        for line in sorted(lines, key=lambda line: line.ticker)
    ]
    # never the rationale, the policy checks, the attestations or a Protected Security
    assert set(payload) == {"alternate_basket_id", "creation_unit_size", "value_per_creation_unit", "estimated_cash_per_creation_unit",
                            "prices_as_of", "components", "kind", "fund", "trade_date", "release_at"}
    text = publication.payload
    assert RATIONALE not in text and "rationale" not in text
    assert "check" not in text and basket.check_report_sha256 not in text and "active_share" not in text
    assert "no order flow" not in text and "attest" not in text
    for ticker in trading_day.market.protected:
        assert f'"{ticker}"' not in text


# --- expiry and use by orders ----------------------------------------------------------------------------------


def test_baskets_of_a_past_day_expire_on_the_next_business_day(trading_day, approver):
    # given: one disseminated, one approved for a later release, one rejected, one still a draft
    disseminated = approved(trading_day, approver)
    waiting = approved(trading_day, approver, release_at=et(TRADE_DATE, 15, 0))
    rejected = alternate_basket_reject(actor=approver, basket=submitted(trading_day), note="no", now=et(TRADE_DATE, 8, 45))
    drafted = draft(trading_day)
    # when: the evening of the day, nothing expires yet
    evening = et(TRADE_DATE, 20, 0)
    changed = alternate_baskets_release_due(actor=system_user(), now=evening)
    assert [b.pk for b in changed] == [waiting.pk]  # only the release of the waiting one (15:00 has passed)
    # when: the next business day
    next_morning = et(NEXT_DAY, 7, 0)
    changed = alternate_baskets_release_due(actor=system_user(), now=next_morning)
    # then
    assert sorted(b.pk for b in changed) == sorted([disseminated.pk, waiting.pk])
    statuses = dict(AlternateBasket.objects.values_list("pk", "status"))
    assert statuses[disseminated.pk] == statuses[waiting.pk] == S.EXPIRED
    assert (statuses[rejected.pk], statuses[drafted.pk]) == (S.REJECTED, S.DRAFT)
    event = disseminated.events.get(to_status=S.EXPIRED)
    assert (event.from_status, event.actor, event.at) == (S.DISSEMINATED, system_user(), next_morning)


def test_an_approved_basket_not_yet_released_expires_after_its_day(trading_day, approver):
    basket = approved(trading_day, approver, release_at=et(TRADE_DATE, 15, 0))
    (changed,) = alternate_baskets_release_due(actor=system_user(), now=et(NEXT_DAY, 7, 0))
    assert changed.pk == basket.pk
    basket.refresh_from_db()
    assert basket.status == S.EXPIRED
    assert basket.events.get(to_status=S.EXPIRED).from_status == S.APPROVED


def test_a_released_basket_of_the_day_is_usable(trading_day, approver):
    basket = approved(trading_day, approver)
    usable = alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=TRADE_DATE, at=et(TRADE_DATE, 10, 0))
    assert usable.pk == basket.pk


def test_an_approved_basket_is_usable_from_its_release_time(trading_day, approver):
    release_at = et(TRADE_DATE, 10, 0)
    basket = approved(trading_day, approver, release_at=release_at)
    with pytest.raises(InvalidInput, match="no disseminated Alternate Basket"):
        alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=TRADE_DATE, at=release_at - dt.timedelta(seconds=1))
    assert alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=TRADE_DATE, at=release_at).pk == basket.pk


def test_another_funds_basket_is_not_usable(trading_day, approver):
    basket = approved(trading_day, approver)
    other = FundFactory(ticker="OTHR")
    with pytest.raises(InvalidInput) as refused:
        alternate_basket_usable(basket_id=basket.pk, fund=other, on=TRADE_DATE, at=et(TRADE_DATE, 10, 0))
    # answered like a missing one: nothing says it exists for another Fund
    assert refused.value.details == {"alternate_basket_id": ["not a disseminated Alternate Basket of this Fund"]}
    assert "BSKT" not in refused.value.message


def test_an_expired_or_other_day_basket_is_not_usable(trading_day, approver):
    basket = approved(trading_day, approver)
    # on another day, before expiry has run
    with pytest.raises(InvalidInput, match="has expired"):
        alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=NEXT_DAY, at=et(NEXT_DAY, 10, 0))
    # expired
    alternate_baskets_release_due(actor=system_user(), now=et(NEXT_DAY, 7, 0))
    for on, at in ((NEXT_DAY, et(NEXT_DAY, 10, 0)), (TRADE_DATE, et(TRADE_DATE, 10, 0))):
        with pytest.raises(InvalidInput):
            alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=on, at=at)


@pytest.mark.parametrize("stage", ["draft", "submitted", "rejected"])
def test_an_undecided_or_rejected_basket_is_not_usable(trading_day, approver, stage):
    basket = draft(trading_day) if stage == "draft" else submitted(trading_day)
    if stage == "rejected":
        basket = alternate_basket_reject(actor=approver, basket=basket, note="no", now=et(TRADE_DATE, 8, 45))
    with pytest.raises(InvalidInput, match="no disseminated Alternate Basket"):
        alternate_basket_usable(basket_id=basket.pk, fund=trading_day.fund, on=TRADE_DATE, at=et(TRADE_DATE, 10, 0))


def test_a_missing_basket_is_not_usable(trading_day):
    with pytest.raises(InvalidInput, match="no disseminated Alternate Basket 999999"):
        alternate_basket_usable(basket_id=999999, fund=trading_day.fund, on=TRADE_DATE, at=et(TRADE_DATE, 10, 0))


# --- audit: events and history -------------------------------------------------------------------------------


def test_every_step_has_one_event_and_history_rows_with_their_user(trading_day, approver):
    # given / when: draft, revise, submit, approve with a later release, release, expire
    pm = trading_day.market.pm
    system = system_user()
    basket = draft(trading_day)
    alternate_basket_revise(actor=pm, basket=basket, lines=substitute_lines(trading_day, "0.985"), now=et(TRADE_DATE, 8, 32))
    alternate_basket_submit(actor=pm, basket=basket, now=et(TRADE_DATE, 8, 33))
    alternate_basket_approve(actor=approver, basket=basket, release_at=et(TRADE_DATE, 9, 0), now=et(TRADE_DATE, 8, 40))
    alternate_baskets_release_due(actor=system, now=et(TRADE_DATE, 9, 0))
    alternate_baskets_release_due(actor=system, now=et(NEXT_DAY, 7, 0))
    # then
    events = list(basket.events.order_by("at", "id").values_list("from_status", "to_status", "actor", "at"))
    assert events == [
        ("", S.DRAFT, pm.pk, MORNING),
        (S.DRAFT, S.DRAFT, pm.pk, et(TRADE_DATE, 8, 32)),
        (S.DRAFT, S.SUBMITTED, pm.pk, et(TRADE_DATE, 8, 33)),
        (S.SUBMITTED, S.APPROVED, approver.pk, et(TRADE_DATE, 8, 40)),
        (S.APPROVED, S.DISSEMINATED, system.pk, et(TRADE_DATE, 9, 0)),
        (S.DISSEMINATED, S.EXPIRED, system.pk, et(NEXT_DAY, 7, 0)),
    ]
    history = list(basket.history.order_by("history_id").values_list("status", "history_user"))
    assert history[0] == (S.DRAFT, pm.pk) and history[-4:] == [
        (S.SUBMITTED, pm.pk), (S.APPROVED, approver.pk), (S.DISSEMINATED, system.pk), (S.EXPIRED, system.pk),
    ]
    assert all(user is not None for _, user in history)
    component_history = AlternateBasketComponent.history.filter(basket_id=basket.pk)
    assert component_history.filter(history_type="+").count() == 2 * len(substitute_lines(trading_day))
    assert component_history.filter(history_type="-").count() == len(substitute_lines(trading_day))
    assert not component_history.filter(history_user__isnull=True).exists()
    publication = Publication.objects.get(alternate_basket=basket)
    assert publication.history.get().history_user == approver


def test_an_approval_at_once_has_two_events_by_the_approver(trading_day, approver):
    basket = approved(trading_day, approver)
    events = list(basket.events.order_by("id").values_list("from_status", "to_status", "actor"))[-2:]
    assert events == [(S.SUBMITTED, S.APPROVED, approver.pk), (S.APPROVED, S.DISSEMINATED, approver.pk)]


# --- the Publication hash chain -----------------------------------------------------------------------------


def assert_chain_intact() -> list[Publication]:
    publications = list(Publication.objects.select_related("fund").order_by("sequence"))
    previous = GENESIS_SHA256
    for number, publication in enumerate(publications, start=1):
        assert publication.sequence == number
        assert publication.previous_chain_sha256 == previous
        assert publication.payload_sha256 == sha256(publication.payload_bytes)
        assert publication.chain_sha256 == chain_hash(previous=previous, sequence=publication.sequence, kind=publication.kind,
                                                      fund_ticker=publication.fund.ticker, release_at=publication.release_at,
                                                      payload_sha256=publication.payload_sha256)
        previous = publication.chain_sha256
    head = PublicationChainHead.objects.get(pk=1)
    assert (head.last_sequence, head.last_chain_sha256) == (len(publications), previous)
    return publications


def test_the_first_publication_links_to_genesis(trading_day):
    (first,) = assert_chain_intact()
    assert GENESIS_SHA256 == "0" * 64 and first.previous_chain_sha256 == GENESIS_SHA256
    assert first.kind == Publication.Kind.SUBSTITUTE_BASKET and first.substitute_basket == trading_day.basket


def test_consecutive_publications_link_and_recompute(trading_day, approver):
    # given: two more Publications after the Substitute Basket's
    one = approved(trading_day, approver)
    two = approved(trading_day, approver, release_at=et(TRADE_DATE, 11, 0), now=et(TRADE_DATE, 9, 0))
    # then
    publications = assert_chain_intact()
    assert [p.kind for p in publications] == ["SUBSTITUTE_BASKET", "ALTERNATE_BASKET", "ALTERNATE_BASKET"]
    assert [p.alternate_basket_id for p in publications[1:]] == [one.pk, two.pk]
    assert publications[2].previous_chain_sha256 == publications[1].chain_sha256
    assert len({p.chain_sha256 for p in publications}) == 3


def test_a_tampered_payload_or_release_time_breaks_the_chain(trading_day, approver):
    # given
    approved(trading_day, approver)
    publication = Publication.objects.order_by("-sequence").first()
    kwargs = dict(previous=publication.previous_chain_sha256, sequence=publication.sequence, kind=publication.kind,
                  fund_ticker="BSKT", payload_sha256=publication.payload_sha256)
    # then: recomputing with anything changed gives another hash
    assert chain_hash(**kwargs, release_at=publication.release_at) == publication.chain_sha256
    assert chain_hash(**kwargs, release_at=publication.release_at - dt.timedelta(microseconds=1)) != publication.chain_sha256
    tampered = publication.payload.replace('"quantity":"', '"quantity":"1', 1)
    assert sha256(tampered.encode()) != publication.payload_sha256
    assert chain_hash(**{**kwargs, "sequence": publication.sequence + 1}, release_at=publication.release_at) != publication.chain_sha256


def test_canonical_json_is_byte_stable():
    one = {"b": D("1.10"), "a": [1, {"z": dt.date(2021, 4, 20), "y": "é"}], "c": None}
    two = {"c": None, "a": [1, {"y": "é", "z": dt.date(2021, 4, 20)}], "b": D("1.10")}
    text = canonical_json(one)
    assert text == canonical_json(two) == '{"a":[1,{"y":"é","z":"2021-04-20"}],"b":"1.10","c":null}'
    # Decimals keep their digits as strings (never floats), datetimes are ISO 8601
    assert canonical_json({"x": D("0.1000")}) == '{"x":"0.1000"}'
    assert canonical_json({"t": dt.datetime(2021, 4, 20, 8, 30, tzinfo=dt.timezone.utc)}) == '{"t":"2021-04-20T08:30:00+00:00"}'
    assert sha256_hex(text.encode("utf-8")) == sha256(canonical_json(two).encode("utf-8"))
    with pytest.raises(TypeError, match="not allowed"):
        canonical_json({"s": {1, 2}})


def test_a_publication_cannot_be_changed_or_deleted(trading_day, approver):
    basket = approved(trading_day, approver)
    publication = Publication.objects.get(alternate_basket=basket)
    payload = publication.payload
    publication.payload = payload.replace("BSKT", "XXXX")
    with pytest.raises(ValidationError, match="immutable"):
        publication.save()
    with pytest.raises(ValidationError, match="kept"):
        publication.delete()
    first = Publication.objects.get(sequence=1)
    with pytest.raises(ValidationError):
        first.save(update_fields=["release_at"])
    with pytest.raises(ValidationError):
        first.delete()
    publication.refresh_from_db()
    assert publication.payload == payload and Publication.objects.count() == 2
    assert_chain_intact()


def test_a_submitter_who_did_not_draft_cannot_approve_either(trading_day, approver):
    basket = draft(trading_day)
    basket = alternate_basket_submit(actor=approver, basket=basket, now=MORNING + dt.timedelta(minutes=1))
    with pytest.raises(FourEyesViolation):
        alternate_basket_approve(actor=approver, basket=basket, now=et(TRADE_DATE, 8, 40))
    assert AlternateBasket.objects.get(pk=basket.pk).status == AlternateBasket.Status.SUBMITTED


def test_only_a_user_with_the_approve_permission_decides(trading_day):
    from baskets.services.alternate import NotEntitled

    basket = submitted(trading_day)
    compliance = UserFactory(roles=[roles.COMPLIANCE])
    with pytest.raises(NotEntitled):
        alternate_basket_approve(actor=compliance, basket=basket, now=et(TRADE_DATE, 8, 40))
    assert not Publication.objects.filter(alternate_basket=basket).exists()
