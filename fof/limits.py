"""Section 12(d)(1) figures for Investing Funds' holdings reports: a pure module (never Django).

Application 812-15070, section V and conditions B.1-B.12. From one holdings report (an Investing
Fund's position in one Fund) and the Fund's shares outstanding this module computes:

- 12(d)(1)(A)(i)   the holding as a % of the Fund's outstanding voting stock        limit  3%
- 12(d)(1)(A)(ii)  the value of the holding as a % of the acquirer's total assets   limit  5%
- 12(d)(1)(A)(iii) all investment-company securities held by the acquirer as a %
                   of its total assets                                               limit 10%
- 12(d)(1)(B)      shares held by all investment companies together as a % of the
                   Fund's outstanding voting stock                                   limit 10%
- condition B.1    an Advisory Group or Sub-Advisory Group (in the aggregate)
                   holding more than 25% of a Fund                                   limit 25%

Rules, applied once and only here:

- Percent = part / whole x 100, computed exactly (60-digit context). The figure that is reported
  and shown in messages is rounded half-up to 4 decimals (``PERCENT_QUANTUM``).
- A limit is crossed only when the exact percent is strictly greater than the limit: the statute
  says "more than 3 per centum" (and "more than 5/10 per centum", condition B.1 "more than 25%"),
  so exactly at a limit is not over it. The comparison uses the exact figure, not the rounded one:
  150,001 of 5,000,000 shares is 3.00002%, reported as 3.0000% but over the 3% limit. That is why
  every message also names the share counts or values it was computed from.
- Under the Order an Investing Fund may go past the 12(d)(1)(A) limits only with an executed FOF
  Participation Agreement (condition B.9). So an (A) figure over its limit is ``over_limit``; it is
  ``breached`` only when no agreement has been executed. Crossing (A)(i) also means the Investing
  Fund must notify the Fund and send its list of Investing Fund Affiliates and Underwriting
  Affiliates (B.9; it is also the trigger of B.4, B.7 and B.8): ``notification_required``.
- 12(d)(1)(B) is relieved only for sales to Investing Funds under an agreement: a Fund over 10% is
  ``breached`` when any investment-company holder of its shares has no executed agreement
  (a conservative reading: the alert is for compliance staff to review).
- Condition B.1: see ``evaluate_control``.

Amounts are Decimal (ints are accepted and converted); floats, NaN and infinities are refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

PERCENT_QUANTUM = Decimal("0.0001")
_EXACT = Context(prec=60)
_HUNDRED = Decimal(100)

LIMIT_A_I = Decimal("3")  # 12(d)(1)(A)(i): % of the acquired Fund's outstanding voting stock
LIMIT_A_II = Decimal("5")  # 12(d)(1)(A)(ii): % of the acquirer's total assets, one Fund
LIMIT_A_III = Decimal("10")  # 12(d)(1)(A)(iii): % of the acquirer's total assets, all investment companies
LIMIT_B = Decimal("10")  # 12(d)(1)(B): % of the Fund's voting stock owned by investment companies generally
LIMIT_CONTROL = Decimal("25")  # condition B.1 / Section 2(a)(9): presumption of control

RULE_A_I = "Section 12(d)(1)(A)(i)"
RULE_A_II = "Section 12(d)(1)(A)(ii)"
RULE_A_III = "Section 12(d)(1)(A)(iii)"
RULE_B = "Section 12(d)(1)(B)"
RULE_B1 = "Condition B.1"


class LimitInputError(ValueError):
    """The inputs cannot give a correct figure (negative shares, no shares outstanding, no total assets...)."""


# --- arithmetic -------------------------------------------------------------------------------


def _amount(value, name: str, *, allow_none: bool = False) -> Decimal | None:
    if value is None:
        if allow_none:
            return None
        raise LimitInputError(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise LimitInputError(f"{name} must be a Decimal (got {type(value).__name__})")
    value = Decimal(value)
    if not value.is_finite():
        raise LimitInputError(f"{name} must be a finite number (got {value})")
    if value < 0:
        raise LimitInputError(f"{name} must not be negative (got {value})")
    return value


def _positive(value, name: str) -> Decimal:
    value = _amount(value, name)
    if value == 0:
        raise LimitInputError(f"{name} must be greater than zero")
    return value


def exact_percent(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole x 100 under a 60-digit context (whole must be > 0)."""
    if whole <= 0:
        raise LimitInputError("cannot take a percentage of a non-positive whole")
    with localcontext(_EXACT):
        return part * _HUNDRED / whole


def round_percent(percent: Decimal) -> Decimal:
    return percent.quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP)


def _fmt_amount(value: Decimal) -> str:
    """150001 -> '150,001'; 4000000.50 -> '4,000,000.50'."""
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return f"{value:,f}"


def _fmt_limit(limit: Decimal) -> str:
    return f"{limit.normalize():f}%"


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldingReport:
    """One Investing Fund's position in one Fund, as reported.

    Give the position's ``value`` or a ``share_price`` (value = shares x price), not both.
    ``acquirer_investment_company_assets`` is the value of all investment-company securities the
    acquirer holds, for (A)(iii); when absent, the sum of its reported holdings of the Funds is used.
    """

    investing_fund_id: str
    fund_id: str
    shares: Decimal
    acquirer_total_assets: Decimal
    share_price: Decimal | None = None
    value: Decimal | None = None
    acquirer_investment_company_assets: Decimal | None = None

    def __post_init__(self):
        # normalise ints to Decimal once, so everything downstream is Decimal
        who = f"{self.investing_fund_id}/{self.fund_id}"
        object.__setattr__(self, "shares", _amount(self.shares, f"{who}: shares"))
        object.__setattr__(self, "acquirer_total_assets", _positive(self.acquirer_total_assets, f"{who}: acquirer_total_assets"))
        for name in ("share_price", "value", "acquirer_investment_company_assets"):
            object.__setattr__(self, name, _amount(getattr(self, name), f"{who}: {name}", allow_none=True))
        if (self.share_price is None) == (self.value is None):
            raise LimitInputError(f"{self.investing_fund_id}/{self.fund_id}: give either share_price or value, not both or neither")

    @property
    def holding_value(self) -> Decimal:
        if self.value is not None:
            return Decimal(self.value)
        with localcontext(_EXACT):
            return Decimal(self.shares) * Decimal(self.share_price)


@dataclass(frozen=True)
class FundState:
    """A Fund's shares outstanding now and (for condition B.1) at the previous report."""

    fund_id: str
    shares_outstanding: Decimal
    previous_shares_outstanding: Decimal | None = None
    name: str | None = None  # e.g. the ticker "DAGE", used in messages; defaults to fund_id

    def __post_init__(self):
        object.__setattr__(self, "shares_outstanding", _positive(self.shares_outstanding, f"{self.fund_id}: shares_outstanding"))
        if self.previous_shares_outstanding is not None:
            object.__setattr__(
                self, "previous_shares_outstanding", _positive(self.previous_shares_outstanding, f"{self.fund_id}: previous_shares_outstanding")
            )

    @property
    def label(self) -> str:
        return self.name or self.fund_id


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitFigure:
    rule: str  # e.g. "Section 12(d)(1)(A)(ii)"
    percent: Decimal  # rounded half-up to 4 decimals
    exact_percent: Decimal
    limit: Decimal
    over_limit: bool  # exact_percent > limit (strictly)
    breached: bool  # over the limit and not covered by the Order's relief
    message: str | None  # set when breached


@dataclass(frozen=True)
class HoldingLimits:
    investing_fund_id: str
    fund_id: str
    a_i: LimitFigure
    a_ii: LimitFigure
    a_iii: LimitFigure
    crosses_3pct: bool  # (A)(i) over 3%
    requires_agreement: bool  # any (A) figure over its limit: B.9 requires an executed agreement
    agreement_executed: bool
    notification_required: bool  # B.9: the Investing Fund notifies the Fund once over (A)(i)

    @property
    def figures(self) -> tuple[LimitFigure, ...]:
        return (self.a_i, self.a_ii, self.a_iii)

    @property
    def breaches(self) -> list[str]:
        return [f.message for f in self.figures if f.breached]


@dataclass(frozen=True)
class FundAggregateLimit:
    """12(d)(1)(B) for one Fund: all investment companies together."""

    fund_id: str
    shares_held: Decimal
    figure: LimitFigure
    holders_without_agreement: tuple[str, ...]


@dataclass(frozen=True)
class ControlCheck:
    """Condition B.1 for one (group, Fund)."""

    group_id: str
    fund_id: str
    percent: Decimal  # rounded
    exact_percent: Decimal
    previous_percent: Decimal | None  # rounded; None without a previous report
    over_limit: bool  # more than 25%
    mirror_voting_required: bool
    control_alert: bool
    message: str | None


# --- 12(d)(1)(A) ------------------------------------------------------------------------------


def _figure(rule: str, part: Decimal, whole: Decimal, limit: Decimal, *, relieved: bool, describe) -> LimitFigure:
    exact = exact_percent(part, whole)
    rounded = round_percent(exact)
    over = exact > limit
    breached = over and not relieved
    return LimitFigure(
        rule=rule,
        percent=rounded,
        exact_percent=exact,
        limit=limit,
        over_limit=over,
        breached=breached,
        message=describe(rounded) if breached else None,
    )


def evaluate_holding(
    report: HoldingReport,
    fund: FundState,
    *,
    agreement_executed: bool = False,
    investment_company_assets: Decimal | None = None,
) -> HoldingLimits:
    """The three 12(d)(1)(A) figures for one report.

    ``investment_company_assets`` (for (A)(iii)) defaults to the report's
    ``acquirer_investment_company_assets``, then to this holding's value alone.
    """
    if report.fund_id != fund.fund_id:
        raise LimitInputError(f"report is for {report.fund_id}, fund state for {fund.fund_id}")
    shares = Decimal(report.shares)
    outstanding = Decimal(fund.shares_outstanding)
    total_assets = Decimal(report.acquirer_total_assets)
    value = report.holding_value
    who = report.investing_fund_id
    if shares > outstanding:
        raise LimitInputError(f"{who} reports {_fmt_amount(shares)} shares of {fund.label}, more than its {_fmt_amount(outstanding)} shares outstanding")
    if value > total_assets:
        raise LimitInputError(f"{who}'s holding of {fund.label} ({_fmt_amount(value)}) exceeds its total assets ({_fmt_amount(total_assets)})")
    if investment_company_assets is None:
        investment_company_assets = report.acquirer_investment_company_assets
    ic_assets = value if investment_company_assets is None else _amount(investment_company_assets, "investment_company_assets")
    if ic_assets < value:
        raise LimitInputError(f"{who}'s investment-company assets ({_fmt_amount(ic_assets)}) are less than its holding of {fund.label} ({_fmt_amount(value)})")
    if ic_assets > total_assets:
        raise LimitInputError(f"{who}'s investment-company assets ({_fmt_amount(ic_assets)}) exceed its total assets ({_fmt_amount(total_assets)})")

    suffix = "without an executed FOF Participation Agreement"
    a_i = _figure(
        RULE_A_I, shares, outstanding, LIMIT_A_I, relieved=agreement_executed,
        describe=lambda p: (
            f"{RULE_A_I}: {p}% of {fund.label}'s outstanding voting stock "
            f"({_fmt_amount(shares)} of {_fmt_amount(outstanding)} shares held by {who}; limit {_fmt_limit(LIMIT_A_I)}) {suffix}"
        ),
    )
    a_ii = _figure(
        RULE_A_II, value, total_assets, LIMIT_A_II, relieved=agreement_executed,
        describe=lambda p: (
            f"{RULE_A_II}: {who}'s holding of {fund.label} is {p}% of its total assets "
            f"({_fmt_amount(value)} of {_fmt_amount(total_assets)}; limit {_fmt_limit(LIMIT_A_II)}) {suffix}"
        ),
    )
    a_iii = _figure(
        RULE_A_III, ic_assets, total_assets, LIMIT_A_III, relieved=agreement_executed,
        describe=lambda p: (
            f"{RULE_A_III}: {who}'s investment-company securities are {p}% of its total assets "
            f"({_fmt_amount(ic_assets)} of {_fmt_amount(total_assets)}; limit {_fmt_limit(LIMIT_A_III)}) "
            f"while investing in {fund.label} {suffix}"
        ),
    )
    crosses = a_i.over_limit
    return HoldingLimits(
        investing_fund_id=who,
        fund_id=fund.fund_id,
        a_i=a_i,
        a_ii=a_ii,
        a_iii=a_iii,
        crosses_3pct=crosses,
        requires_agreement=a_i.over_limit or a_ii.over_limit or a_iii.over_limit,
        agreement_executed=agreement_executed,
        notification_required=crosses,
    )


def investment_company_assets_by_acquirer(reports: Iterable[HoldingReport]) -> dict[str, Decimal]:
    """(A)(iii) numerator per Investing Fund: its given aggregate, else the sum of its reported holdings.

    A given aggregate must cover at least the holdings of the Funds reported with it.
    """
    summed: dict[str, Decimal] = defaultdict(Decimal)
    given: dict[str, Decimal] = {}
    for report in reports:
        with localcontext(_EXACT):
            summed[report.investing_fund_id] += report.holding_value
        if report.acquirer_investment_company_assets is not None:
            aggregate = Decimal(report.acquirer_investment_company_assets)
            previous = given.setdefault(report.investing_fund_id, aggregate)
            if previous != aggregate:
                raise LimitInputError(f"{report.investing_fund_id}: two different investment-company aggregates in one batch")
    result = {}
    for acquirer, total in summed.items():
        aggregate = given.get(acquirer, total)
        if aggregate < total:
            raise LimitInputError(f"{acquirer}'s investment-company aggregate ({_fmt_amount(aggregate)}) is less than its reported holdings of the Funds ({_fmt_amount(total)})")
        result[acquirer] = aggregate
    return result


def evaluate_reports(
    reports: Iterable[HoldingReport],
    funds: Mapping[str, FundState],
    *,
    executed_agreements: Collection[tuple[str, str]] = (),
) -> list[HoldingLimits]:
    """(A)(i)-(iii) for a batch of reports; ``executed_agreements`` holds (investing_fund_id, fund_id) pairs."""
    reports = list(reports)
    ic_assets = investment_company_assets_by_acquirer(reports)
    agreements = set(executed_agreements)
    results = []
    for report in reports:
        if report.fund_id not in funds:
            raise LimitInputError(f"no shares outstanding for {report.fund_id}")
        results.append(
            evaluate_holding(
                report,
                funds[report.fund_id],
                agreement_executed=(report.investing_fund_id, report.fund_id) in agreements,
                investment_company_assets=ic_assets[report.investing_fund_id],
            )
        )
    return results


# --- 12(d)(1)(B) ------------------------------------------------------------------------------


def evaluate_fund_aggregate(
    fund: FundState,
    holdings: Mapping[str, Decimal],
    *,
    holders_with_agreement: Collection[str] = (),
) -> FundAggregateLimit:
    """12(d)(1)(B): ``holdings`` maps every registered investment company (Investing Funds and any
    other) holding the Fund to its shares."""
    outstanding = Decimal(fund.shares_outstanding)
    total = Decimal(0)
    for holder, shares in holdings.items():
        with localcontext(_EXACT):
            total += _amount(shares, f"{holder}: shares")
    if total > outstanding:
        raise LimitInputError(f"investment companies hold {_fmt_amount(total)} shares of {fund.label}, more than its {_fmt_amount(outstanding)} shares outstanding")
    covered = set(holders_with_agreement)
    without = tuple(sorted(h for h, s in holdings.items() if s > 0 and h not in covered))
    figure = _figure(
        RULE_B, total, outstanding, LIMIT_B, relieved=not without,
        describe=lambda p: (
            f"{RULE_B}: investment companies together hold {p}% of {fund.label}'s outstanding voting stock "
            f"({_fmt_amount(total)} of {_fmt_amount(outstanding)} shares; limit {_fmt_limit(LIMIT_B)}); "
            f"without an executed FOF Participation Agreement: {', '.join(without)}"
        ),
    )
    return FundAggregateLimit(fund_id=fund.fund_id, shares_held=total, figure=figure, holders_without_agreement=without)


def investment_company_shares_by_fund(reports: Iterable[HoldingReport]) -> dict[str, dict[str, Decimal]]:
    """fund_id -> {investing_fund_id: shares}, the input of ``evaluate_fund_aggregate``."""
    result: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for report in reports:
        holders = result[report.fund_id]
        if report.investing_fund_id in holders:
            raise LimitInputError(f"two reports of {report.investing_fund_id} in {report.fund_id} in one batch")
        holders[report.investing_fund_id] = Decimal(report.shares)
    return dict(result)


# --- condition B.1 ----------------------------------------------------------------------------


def group_positions(
    reports: Iterable[HoldingReport],
    group_of: Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]],
    *,
    affiliate_positions: Iterable[tuple[str, str, Decimal]] = (),
) -> dict[tuple[str, str], Decimal]:
    """Sum shares per (group, Fund).

    ``group_of`` gives, for an Investing Fund, the groups it belongs to: its Advisory Group (its
    adviser or sponsor) and one Sub-Advisory Group per sub-adviser. An Investing Fund in no group
    counts nowhere. ``affiliate_positions`` adds (group_id, fund_id, shares) held by other members
    (the adviser itself, its affiliates, private funds it advises).

    Leave out a Sub-Advisory Group for a Fund that its sub-adviser (or an affiliate) advises:
    condition B.1 does not apply to it there.
    """
    lookup = group_of if callable(group_of) else (lambda fund_id: group_of.get(fund_id, ()))
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for report in reports:
        for group in set(lookup(report.investing_fund_id)):
            with localcontext(_EXACT):
                totals[(group, report.fund_id)] += Decimal(report.shares)
    for group, fund_id, shares in affiliate_positions:
        with localcontext(_EXACT):
            totals[(group, fund_id)] += _amount(shares, f"{group}/{fund_id}: affiliate shares")
    return dict(totals)


def evaluate_control(
    group_id: str,
    fund: FundState,
    *,
    current_shares: Decimal,
    previous_shares: Decimal | None = None,
    previously_mirror_voting: bool = False,
) -> ControlCheck:
    """Condition B.1 for one group's aggregate position in one Fund.

    Over 25% (strictly) of the Fund's shares outstanding:
    - mirror voting when the group's share count did not increase since the previous report and the
      Fund's shares outstanding fell (the crossing came from the decrease in outstanding voting
      securities), or when the group was already in mirror voting at the previous report and has
      not bought since;
    - otherwise a control alert: the group bought (any increase counts, even if the fall in shares
      outstanding alone would also have crossed), or there is no previous report to show the
      crossing was passive.
    Not over 25%: neither flag.
    """
    current = _amount(current_shares, f"{group_id}/{fund.fund_id}: current_shares")
    previous = _amount(previous_shares, f"{group_id}/{fund.fund_id}: previous_shares", allow_none=True)
    outstanding = Decimal(fund.shares_outstanding)
    if current > outstanding:
        raise LimitInputError(f"{group_id} holds {_fmt_amount(current)} shares of {fund.label}, more than its {_fmt_amount(outstanding)} shares outstanding")
    exact = exact_percent(current, outstanding)
    rounded = round_percent(exact)
    previous_outstanding = fund.previous_shares_outstanding
    previous_percent = None
    if previous is not None and previous_outstanding is not None:
        previous_percent = round_percent(exact_percent(previous, Decimal(previous_outstanding)))

    over = exact > LIMIT_CONTROL
    mirror = alert = False
    message = None
    if over:
        did_not_buy = previous is not None and current <= previous
        outstanding_fell = previous_outstanding is not None and outstanding < Decimal(previous_outstanding)
        mirror = did_not_buy and (outstanding_fell or previously_mirror_voting)
        alert = not mirror
        base = (
            f"{RULE_B1}: {group_id} holds {rounded}% of {fund.label}'s outstanding voting securities "
            f"({_fmt_amount(current)} of {_fmt_amount(outstanding)} shares; limit {_fmt_limit(LIMIT_CONTROL)})"
        )
        if mirror:
            was = f" (was {previous_percent}%)" if previous_percent is not None else ""
            message = f"{base}{was} after a decrease in shares outstanding: it must vote its shares in the same proportion as all other holders"
        elif previous is None:
            message = f"{base} with no previous report to show the crossing came from a decrease in shares outstanding: presumed control"
        else:
            message = f"{base} after buying ({_fmt_amount(previous)} -> {_fmt_amount(current)} shares): presumed control, not permitted"
    return ControlCheck(
        group_id=group_id,
        fund_id=fund.fund_id,
        percent=rounded,
        exact_percent=exact,
        previous_percent=previous_percent,
        over_limit=over,
        mirror_voting_required=mirror,
        control_alert=alert,
        message=message,
    )


def evaluate_groups(
    current: Mapping[tuple[str, str], Decimal],
    previous: Mapping[tuple[str, str], Decimal],
    funds: Mapping[str, FundState],
    *,
    mirror_voting: Collection[tuple[str, str]] = (),
) -> list[ControlCheck]:
    """Condition B.1 for every (group, Fund) in ``current`` (``group_positions`` of this and the
    previous report). A pair absent from ``previous`` held 0 shares then, if the previous report exists
    for that Fund (``previous_shares_outstanding`` set), else has no history."""
    checks = []
    for (group, fund_id), shares in sorted(current.items()):
        if fund_id not in funds:
            raise LimitInputError(f"no shares outstanding for {fund_id}")
        fund = funds[fund_id]
        prior = previous.get((group, fund_id))
        if prior is None and fund.previous_shares_outstanding is not None:
            prior = Decimal(0)
        checks.append(
            evaluate_control(group, fund, current_shares=shares, previous_shares=prior, previously_mirror_voting=(group, fund_id) in set(mirror_voting))
        )
    return checks
