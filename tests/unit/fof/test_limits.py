"""Section 12(d)(1) figures and condition B.1 against hand computations (no database)."""

import subprocess
import sys
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fof.limits import (
    FundState,
    HoldingReport,
    LimitInputError,
    evaluate_control,
    evaluate_fund_aggregate,
    evaluate_groups,
    evaluate_holding,
    evaluate_reports,
    group_positions,
    investment_company_shares_by_fund,
    round_percent,
)

DAGE = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), name="DAGE")
TOTAL_ASSETS = D("100000000")


def report(shares, *, investing_fund="IF-A", fund_id="fund-1", value=D("1000000"), price=None, total_assets=TOTAL_ASSETS, ic_assets=None):
    if price is not None:
        value = None
    return HoldingReport(
        investing_fund_id=investing_fund,
        fund_id=fund_id,
        shares=D(shares),
        share_price=price,
        value=value,
        acquirer_total_assets=total_assets,
        acquirer_investment_company_assets=ic_assets,
    )


def test_module_does_not_import_django():
    code = "import sys, fof.limits; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": "."}, check=False)
    assert result.returncode == 0, result.stderr


# --- 12(d)(1)(A)(i) ---------------------------------------------------------------------------


def test_exactly_three_percent_is_not_over():
    # given: 150,000 / 5,000,000 x 100 = 3.0000% exactly
    # when
    limits = evaluate_holding(report("150000"), DAGE)
    # then: "more than 3 per centum" -> exactly 3% does not cross
    assert limits.a_i.percent == D("3.0000")
    assert limits.a_i.limit == D("3")
    assert not limits.a_i.over_limit and not limits.a_i.breached
    assert not limits.crosses_3pct and not limits.requires_agreement and not limits.notification_required
    assert limits.breaches == []


def test_one_share_more_crosses_without_agreement():
    # given: 150,001 / 5,000,000 x 100 = 3.00002% -> reported 3.0000, but over 3% (exact comparison)
    # when
    limits = evaluate_holding(report("150001"), DAGE, agreement_executed=False)
    # then
    assert limits.a_i.percent == D("3.0000")
    assert limits.a_i.exact_percent == D("3.00002")
    assert limits.crosses_3pct and limits.requires_agreement and limits.notification_required
    assert limits.a_i.breached
    assert limits.breaches == [
        (
            "Section 12(d)(1)(A)(i): 3.0000% of DAGE's outstanding voting stock "
            "(150,001 of 5,000,000 shares held by IF-A; limit 3%) without an executed FOF Participation Agreement"
        )
    ]


def test_crossing_with_an_executed_agreement_is_not_a_breach_but_needs_notification():
    # given: 162,500 / 5,000,000 x 100 = 3.25%
    limits = evaluate_holding(report("162500"), DAGE, agreement_executed=True)
    # then: over the limit, relieved by the Order (B.9), notification still due
    assert limits.a_i.percent == D("3.2500")
    assert limits.a_i.over_limit and not limits.a_i.breached and limits.a_i.message is None
    assert limits.crosses_3pct and limits.requires_agreement and limits.notification_required
    assert limits.agreement_executed


def test_percent_rounds_half_up_to_four_places():
    # given: 1 / 2,000,000 x 100 = 0.00005% (a tie at the 5th decimal)
    limits = evaluate_holding(report("1"), FundState(fund_id="fund-1", shares_outstanding=D("2000000")))
    # then: half-up gives 0.0001 (half-even would give 0.0000)
    assert limits.a_i.percent == D("0.0001")
    assert round_percent(D("2.00005")) == D("2.0001")
    assert round_percent(D("2.000049")) == D("2.0000")


def test_message_falls_back_to_fund_id_without_a_name():
    fund = FundState(fund_id="fund-9", shares_outstanding=D("1000"))
    limits = evaluate_holding(report("40", fund_id="fund-9", value=D("1")), fund)
    # 40 / 1,000 = 4.0000%
    assert limits.a_i.message.startswith("Section 12(d)(1)(A)(i): 4.0000% of fund-9's outstanding voting stock")


# --- 12(d)(1)(A)(ii) and (iii) ----------------------------------------------------------------


def test_value_under_five_percent_of_total_assets():
    # given: $4,000,000 of $100,000,000 total assets = 4%
    limits = evaluate_holding(report("100000", value=D("4000000")), DAGE)
    # then
    assert limits.a_ii.percent == D("4.0000")
    assert limits.a_ii.limit == D("5")
    assert not limits.a_ii.over_limit
    # (A)(iii) without an aggregate: this holding alone, 4%
    assert limits.a_iii.percent == D("4.0000") and not limits.a_iii.over_limit


def test_value_from_share_price():
    # given: 150,000 shares x $26.6667 = $4,000,005.00; / $100,000,000 x 100 = 4.000005% -> 4.0000
    limits = evaluate_holding(report("150000", price=D("26.6667")), DAGE)
    assert limits.a_ii.exact_percent == D("4.000005")
    assert limits.a_ii.percent == D("4.0000")


def test_value_over_five_percent():
    # given: $5,000,001 of $100,000,000 = 5.000001% -> 5.0000 reported, over 5%; $5,000,000 exactly is not over
    over = evaluate_holding(report("100000", value=D("5000001")), DAGE)
    at = evaluate_holding(report("100000", value=D("5000000")), DAGE)
    assert over.a_ii.over_limit and over.a_ii.breached and over.requires_agreement
    assert not over.crosses_3pct  # 100,000 / 5,000,000 = 2%: no B.9 notification
    assert not over.notification_required
    assert over.a_ii.message == (
        "Section 12(d)(1)(A)(ii): IF-A's holding of DAGE is 5.0000% of its total assets "
        "(5,000,001 of 100,000,000; limit 5%) without an executed FOF Participation Agreement"
    )
    assert not at.a_ii.over_limit


def test_all_investment_companies_summed_across_funds_over_ten_percent():
    # given: IF-A holds $4,000,000 of DAGE and $7,000,000 of DAVE; total assets $100,000,000
    dave = FundState(fund_id="fund-2", shares_outstanding=D("8000000"), name="DAVE")
    reports = [report("100000", value=D("4000000")), report("200000", fund_id="fund-2", value=D("7000000"))]
    # when
    results = evaluate_reports(reports, {"fund-1": DAGE, "fund-2": dave}, executed_agreements={("IF-A", "fund-2")})
    # then: (4,000,000 + 7,000,000) / 100,000,000 = 11% > 10%, on both reports
    dage_limits, dave_limits = results
    assert dage_limits.a_iii.percent == dave_limits.a_iii.percent == D("11.0000")
    assert dage_limits.a_iii.breached  # no agreement for DAGE
    assert dave_limits.a_iii.over_limit and not dave_limits.a_iii.breached  # DAVE under an agreement
    # DAVE: 7,000,000 / 100,000,000 = 7% > 5% as well; 200,000 / 8,000,000 = 2.5% under 3%
    assert dave_limits.a_ii.percent == D("7.0000") and dave_limits.a_i.percent == D("2.5000")


def test_given_aggregate_is_used_for_a_iii():
    # given: $4,000,000 of DAGE within $9,500,000 of investment-company securities -> 9.5%, under 10%
    limits = evaluate_reports([report("100000", value=D("4000000"), ic_assets=D("9500000"))], {"fund-1": DAGE})[0]
    assert limits.a_iii.percent == D("9.5000") and not limits.a_iii.over_limit
    # and $10,000,000 exactly is at, not over, the limit
    at = evaluate_holding(report("100000", value=D("4000000"), ic_assets=D("10000000")), DAGE)
    assert at.a_iii.percent == D("10.0000") and not at.a_iii.over_limit


def test_given_aggregate_smaller_than_reported_holdings_is_refused():
    reports = [report("100000", value=D("4000000"), ic_assets=D("5000000")), report("1", fund_id="fund-2", value=D("2000000"))]
    with pytest.raises(LimitInputError, match="less than its reported holdings"):
        evaluate_reports(reports, {"fund-1": DAGE, "fund-2": FundState(fund_id="fund-2", shares_outstanding=D("10"))})


# --- 12(d)(1)(B) ------------------------------------------------------------------------------


def test_investment_companies_together_over_ten_percent():
    # given: 300,000 + 220,000 = 520,000 of 5,000,000 = 10.4%
    holdings = investment_company_shares_by_fund([report("300000", investing_fund="IF-A"), report("220000", investing_fund="IF-B")])
    # when
    aggregate = evaluate_fund_aggregate(DAGE, holdings["fund-1"], holders_with_agreement={"IF-A"})
    # then
    assert aggregate.shares_held == D("520000")
    assert aggregate.figure.percent == D("10.4000") and aggregate.figure.limit == D("10")
    assert aggregate.figure.over_limit and aggregate.figure.breached
    assert aggregate.holders_without_agreement == ("IF-B",)
    assert aggregate.figure.message == (
        "Section 12(d)(1)(B): investment companies together hold 10.4000% of DAGE's outstanding voting stock "
        "(520,000 of 5,000,000 shares; limit 10%); without an executed FOF Participation Agreement: IF-B"
    )


def test_over_ten_percent_with_every_holder_under_an_agreement_is_not_a_breach():
    aggregate = evaluate_fund_aggregate(DAGE, {"IF-A": D("300000"), "IF-B": D("220000")}, holders_with_agreement={"IF-A", "IF-B"})
    assert aggregate.figure.over_limit and not aggregate.figure.breached


def test_exactly_ten_percent_is_not_over_b():
    # 500,000 / 5,000,000 = 10%
    aggregate = evaluate_fund_aggregate(DAGE, {"IF-A": D("250000"), "other-RIC": D("250000")})
    assert aggregate.figure.percent == D("10.0000") and not aggregate.figure.over_limit and not aggregate.figure.breached


# --- condition B.1 ----------------------------------------------------------------------------

GROUPS = {"IF-A": ["adviser-X"], "IF-B": ["adviser-X", "subadviser-Y"], "IF-C": ["adviser-Z"]}


def test_group_positions_sum_members_and_affiliates():
    # given: IF-A 800,000 and IF-B 600,000 share adviser X; IF-B also has sub-adviser Y; IF-C alone
    reports = [report("800000", investing_fund="IF-A"), report("600000", investing_fund="IF-B"), report("10", investing_fund="IF-C")]
    # when
    totals = group_positions(reports, GROUPS, affiliate_positions=[("adviser-Z", "fund-1", D("5"))])
    # then
    assert totals == {
        ("adviser-X", "fund-1"): D("1400000"),
        ("subadviser-Y", "fund-1"): D("600000"),
        ("adviser-Z", "fund-1"): D("15"),
    }
    # a callable works the same, and an Investing Fund in no group counts nowhere
    assert group_positions([report("7", investing_fund="IF-Q")], lambda fund_id: GROUPS.get(fund_id, [])) == {}


def test_group_crossing_25_percent_by_a_fall_in_shares_outstanding_votes_in_mirror():
    # given: adviser X's group held 1,400,000 of 6,000,000 = 23.3333% (under 25%);
    # shares outstanding fell to 5,000,000 and the group did not buy: 1,400,000 / 5,000,000 = 28%
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("6000000"), name="DAGE")
    # when
    check = evaluate_control("adviser-X", fund, current_shares=D("1400000"), previous_shares=D("1400000"))
    # then
    assert check.percent == D("28.0000") and check.previous_percent == D("23.3333")
    assert check.over_limit and check.mirror_voting_required and not check.control_alert
    assert check.message == (
        "Condition B.1: adviser-X holds 28.0000% of DAGE's outstanding voting securities "
        "(1,400,000 of 5,000,000 shares; limit 25%) (was 23.3333%) after a decrease in shares outstanding: "
        "it must vote its shares in the same proportion as all other holders"
    )


def test_group_crossing_25_percent_by_buying_is_a_control_alert():
    # given: the group held 1,200,000 of 5,000,000 = 24% and bought 200,000: 1,400,000 / 5,000,000 = 28%
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("5000000"), name="DAGE")
    check = evaluate_control("adviser-X", fund, current_shares=D("1400000"), previous_shares=D("1200000"))
    assert check.previous_percent == D("24.0000")
    assert check.control_alert and not check.mirror_voting_required
    assert "after buying (1,200,000 -> 1,400,000 shares): presumed control" in check.message


def test_buying_while_shares_outstanding_fall_is_still_a_control_alert():
    # given: 1,200,000 of 6,000,000 = 20% -> bought to 1,400,000 while outstanding fell to 5,000,000 (28%)
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("6000000"))
    check = evaluate_control("adviser-X", fund, current_shares=D("1400000"), previous_shares=D("1200000"))
    assert check.control_alert and not check.mirror_voting_required


def test_group_selling_some_while_outstanding_fell_more_is_mirror_voting():
    # given: 1,500,000 of 6,500,000 = 23.0769% -> sold to 1,400,000, outstanding fell to 5,000,000 (28%)
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("6500000"))
    check = evaluate_control("adviser-X", fund, current_shares=D("1400000"), previous_shares=D("1500000"))
    assert check.previous_percent == D("23.0769")
    assert check.mirror_voting_required and not check.control_alert


def test_mirror_voting_persists_while_the_group_does_not_buy():
    # given: already in mirror voting at 28%; shares outstanding unchanged, group unchanged
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("5000000"))
    kept = evaluate_control("adviser-X", fund, current_shares=D("1400000"), previous_shares=D("1400000"), previously_mirror_voting=True)
    bought = evaluate_control("adviser-X", fund, current_shares=D("1400001"), previous_shares=D("1400000"), previously_mirror_voting=True)
    assert kept.mirror_voting_required and not kept.control_alert
    assert bought.control_alert and not bought.mirror_voting_required


def test_over_25_percent_without_history_is_a_control_alert():
    check = evaluate_control("adviser-X", DAGE, current_shares=D("1400000"))
    assert check.control_alert and check.previous_percent is None
    assert "no previous report" in check.message


def test_exactly_25_percent_is_not_over():
    # 1,250,000 / 5,000,000 = 25% exactly
    check = evaluate_control("adviser-X", DAGE, current_shares=D("1250000"))
    assert check.percent == D("25.0000")
    assert not (check.over_limit or check.mirror_voting_required or check.control_alert)
    assert check.message is None


def test_evaluate_groups_end_to_end():
    # given: this report IF-A 800,000 + IF-B 600,000 (adviser X: 1,400,000 = 28%; sub-adviser Y: 600,000 = 12%)
    # previous report: the same positions, shares outstanding 6,000,000 (23.3333% and 10%)
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D("6000000"), name="DAGE")
    reports = [report("800000", investing_fund="IF-A"), report("600000", investing_fund="IF-B")]
    current = group_positions(reports, GROUPS)
    # a new group Z bought 1,300,000 since (26%): absent before, so it held 0
    current[("adviser-Z", "fund-1")] = D("1300000")
    previous = dict(current)
    del previous[("adviser-Z", "fund-1")]
    # when
    checks = {c.group_id: c for c in evaluate_groups(current, previous, {"fund-1": fund})}
    # then
    assert checks["adviser-X"].mirror_voting_required
    assert not checks["subadviser-Y"].over_limit and checks["subadviser-Y"].percent == D("12.0000")
    assert checks["adviser-Z"].control_alert and "0 -> 1,300,000" in checks["adviser-Z"].message


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: report("-1"), "shares must not be negative"),
        (lambda: report("1", total_assets=D("0")), "acquirer_total_assets must be greater than zero"),
        (lambda: report("1", total_assets=D("-5")), "acquirer_total_assets must not be negative"),
        (lambda: report("1", value=D("-1")), "value must not be negative"),
        (lambda: report("1", ic_assets=D("-1")), "acquirer_investment_company_assets must not be negative"),
        (lambda: HoldingReport("IF-A", "fund-1", shares=1.5, acquirer_total_assets=TOTAL_ASSETS, value=D("1")), "must be a Decimal"),
        (lambda: HoldingReport("IF-A", "fund-1", shares=True, acquirer_total_assets=TOTAL_ASSETS, value=D("1")), "must be a Decimal"),
        (lambda: HoldingReport("IF-A", "fund-1", shares=D("NaN"), acquirer_total_assets=TOTAL_ASSETS, value=D("1")), "finite"),
        (lambda: HoldingReport("IF-A", "fund-1", shares=D("1"), acquirer_total_assets=TOTAL_ASSETS), "either share_price or value"),
        (
            lambda: HoldingReport("IF-A", "fund-1", shares=D("1"), acquirer_total_assets=TOTAL_ASSETS, value=D("1"), share_price=D("1")),
            "either share_price or value",
        ),
        (lambda: FundState(fund_id="fund-1", shares_outstanding=D("0")), "shares_outstanding must be greater than zero"),
        (lambda: FundState(fund_id="fund-1", shares_outstanding=D("-1")), "must not be negative"),
        (lambda: FundState(fund_id="fund-1", shares_outstanding=D("10"), previous_shares_outstanding=D("0")), "previous_shares_outstanding"),
    ],
)
def test_bad_inputs_are_refused(make, match):
    with pytest.raises(LimitInputError, match=match):
        make()


def test_impossible_positions_are_refused():
    with pytest.raises(LimitInputError, match="more than its 5,000,000 shares outstanding"):
        evaluate_holding(report("5000001"), DAGE)
    with pytest.raises(LimitInputError, match="exceeds its total assets"):
        evaluate_holding(report("1", value=D("100000001")), DAGE)
    with pytest.raises(LimitInputError, match="exceed its total assets"):
        evaluate_holding(report("1", value=D("1"), ic_assets=D("100000001")), DAGE)
    with pytest.raises(LimitInputError, match="less than its holding"):
        evaluate_holding(report("1", value=D("10"), ic_assets=D("9")), DAGE)
    with pytest.raises(LimitInputError, match="report is for fund-2"):
        evaluate_holding(report("1", fund_id="fund-2"), DAGE)
    with pytest.raises(LimitInputError, match="no shares outstanding for fund-2"):
        evaluate_reports([report("1", fund_id="fund-2")], {"fund-1": DAGE})
    with pytest.raises(LimitInputError, match="more than its"):
        evaluate_fund_aggregate(DAGE, {"IF-A": D("3000000"), "IF-B": D("2000001")})
    with pytest.raises(LimitInputError, match="must not be negative"):
        evaluate_fund_aggregate(DAGE, {"IF-A": D("-1")})
    with pytest.raises(LimitInputError, match="must not be negative"):
        evaluate_control("adviser-X", DAGE, current_shares=D("-1"))
    with pytest.raises(LimitInputError, match="two reports of IF-A"):
        investment_company_shares_by_fund([report("1"), report("2")])


def test_ints_are_accepted_as_decimals():
    limits = evaluate_holding(
        HoldingReport("IF-A", "fund-1", shares=150001, acquirer_total_assets=100000000, value=4000000), FundState("fund-1", 5000000)
    )
    assert limits.crosses_3pct and limits.a_ii.percent == D("4.0000")


# --- properties -------------------------------------------------------------------------------

shares_st = st.integers(min_value=0, max_value=5_000_000)


@given(a=shares_st, b=shares_st)
def test_a_i_percent_is_monotonic_in_shares(a, b):
    low, high = sorted((a, b))
    first = evaluate_holding(report(str(low)), DAGE)
    second = evaluate_holding(report(str(high)), DAGE)
    assert first.a_i.exact_percent <= second.a_i.exact_percent
    assert first.a_i.percent <= second.a_i.percent
    # crossing is monotonic too, and happens exactly above 150,000 shares
    assert first.crosses_3pct <= second.crosses_3pct
    assert second.crosses_3pct == (high > 150_000)


@given(a=st.integers(min_value=0, max_value=100_000_000), b=st.integers(min_value=0, max_value=100_000_000))
def test_a_ii_percent_is_monotonic_in_value(a, b):
    low, high = sorted((a, b))
    first = evaluate_holding(report("1", value=D(low)), DAGE)
    second = evaluate_holding(report("1", value=D(high)), DAGE)
    assert first.a_ii.percent <= second.a_ii.percent
    assert first.a_ii.over_limit <= second.a_ii.over_limit


@given(
    current=st.integers(min_value=0, max_value=5_000_000),
    previous=st.integers(min_value=0, max_value=6_000_000),
    previous_outstanding=st.integers(min_value=6_000_000, max_value=9_000_000),
    mirror_before=st.booleans(),
)
def test_b1_flags_are_exclusive_and_only_over_25_percent(current, previous, previous_outstanding, mirror_before):
    fund = FundState(fund_id="fund-1", shares_outstanding=D("5000000"), previous_shares_outstanding=D(previous_outstanding))
    check = evaluate_control("g", fund, current_shares=D(current), previous_shares=D(previous), previously_mirror_voting=mirror_before)
    assert not (check.mirror_voting_required and check.control_alert)
    assert check.over_limit == (check.mirror_voting_required or check.control_alert) == (current > 1_250_000)
    if check.over_limit:
        # shares outstanding fell (>= 6,000,000 -> 5,000,000): mirror voting exactly when the group did not buy
        assert check.mirror_voting_required == (current <= previous)
