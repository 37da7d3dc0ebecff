"""Alternate Baskets: drafted by a Portfolio Manager, checked against the Fund's written basket policy,
approved by a second person, and released to every AP at once through the dissemination channel.

States: DRAFT -> SUBMITTED -> APPROVED | REJECTED; APPROVED -> DISSEMINATED at its release time;
APPROVED or DISSEMINATED -> EXPIRED after its business day. Never negotiated with APs: no AP-facing
path writes one. Each step is one transaction with a history row and an ``AlternateBasketEvent``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from backoffice.exceptions import DomainError, InvalidInput, InvalidTransition
from baskets import selectors
from baskets.engine import metrics
from baskets.models import AlternateBasket, AlternateBasketComponent, AlternateBasketEvent, Publication, SubstituteBasket
from baskets.services.dissemination import canonical_json, publication_append, sha256_hex
from funds import business_calendar
from funds.models import AssetClass, DailyPrice, Fund, Security

PERMISSIBLE_ASSET_CLASSES = set(AssetClass.values)  # the application's Permissible Investments, and nothing else
CENT = Decimal("0.01")


class FourEyesViolation(InvalidTransition):
    code = "four_eyes"


class NotEntitled(DomainError):
    code = "not_entitled"
    http_status = 403


APPROVE_PERMISSION = "baskets.approve_alternatebasket"
STEP_VERB = {"submit": "submitted", "approve": "approved", "reject": "rejected", "disseminate": "disseminated", "expire": "expired"}


@dataclass(frozen=True)
class DraftLine:
    ticker: str
    quantity: Decimal
    no_front_running_risk: bool = False
    attestation_note: str = ""


def _line_errors(fund: Fund, trade_date: dt.date, lines: list[DraftLine]) -> tuple[list[str], dict[str, Security]]:
    """Every offending line, named: unknown ticker, zero quantity, duplicate, Protected Security, not permissible."""
    errors: list[str] = []
    tickers = [(line.ticker or "").strip().upper() for line in lines]
    securities = {s.ticker: s for s in Security.objects.filter(ticker__in=tickers)}
    protected = selectors.protected_security_ids(fund_id=fund.pk, on=trade_date)
    seen: set[str] = set()
    if not lines:
        errors.append("an Alternate Basket needs at least one line")
    for number, (line, ticker) in enumerate(zip(lines, tickers), start=1):
        where = f"line {number} ({ticker or 'no ticker'})"
        security = securities.get(ticker)
        if security is None:
            errors.append(f"{where}: unknown ticker {ticker!r}")
            continue
        if ticker in seen:
            errors.append(f"{where}: {ticker} appears more than once")
        seen.add(ticker)
        if line.quantity is None or line.quantity <= 0:
            errors.append(f"{where}: the quantity per Creation Unit must be positive, not {line.quantity}")
        if security.pk in protected:
            errors.append(f"{where}: {ticker} is a Protected Security of {fund.ticker} on {trade_date.isoformat()} and may not be "
                          "in an Alternate Basket (footnote 40)")
        if security.asset_class not in PERMISSIBLE_ASSET_CLASSES or not security.is_active:
            errors.append(f"{where}: {ticker} is not a Permissible Investment")
    return errors, securities


def _refuse(errors: list[str], what: str) -> None:
    if errors:
        raise InvalidInput(f"{what}: " + "; ".join(errors) + ".", details={"lines": errors})


def _event(basket: AlternateBasket, before: str, actor, at: dt.datetime, message: str = "", **details) -> None:
    AlternateBasketEvent.objects.create(basket=basket, from_status=before, to_status=basket.status, actor=actor, at=at,
                                        message=message, details=details)


def _step(basket: AlternateBasket, method: str, actor, at: dt.datetime, message: str = "", **details) -> AlternateBasket:
    before = basket.status
    try:
        getattr(basket, method)()
    except TransitionNotAllowed:
        raise InvalidTransition(
            f"{basket} is {basket.get_status_display().lower()}: it cannot be {STEP_VERB.get(method, method)}.", details={"status": basket.status},
        )
    basket._history_user = actor
    basket.save()
    _event(basket, before, actor, at, message, **details)
    return basket


def _write_lines(basket: AlternateBasket, lines: list[DraftLine], securities: dict[str, Security], actor) -> None:
    for line in lines:
        component = AlternateBasketComponent(
            basket=basket, security=securities[line.ticker.strip().upper()], quantity=line.quantity,
            no_front_running_risk=bool(line.no_front_running_risk), attestation_note=(line.attestation_note or "").strip()[:300],
        )
        component._history_user = actor
        component.save()


@transaction.atomic
def alternate_basket_draft(
    *, actor, fund: Fund, trade_date: dt.date, purpose: str, rationale: str, lines: list[DraftLine], now: dt.datetime | None = None,
) -> AlternateBasket:
    now = now or timezone.now()
    if not business_calendar.is_business_day(trade_date):
        raise InvalidInput(f"trade_date: {trade_date.isoformat()} is not a business day.", details={"trade_date": ["not a business day"]})
    if trade_date < business_calendar.business_date(now):
        raise InvalidInput(f"trade_date: {trade_date.isoformat()} is in the past.", details={"trade_date": ["in the past"]})
    if purpose not in AlternateBasket.Purpose.values:
        raise InvalidInput(f"purpose: one of {', '.join(AlternateBasket.Purpose.values)}.", details={"purpose": ["invalid"]})
    if not (rationale or "").strip():
        raise InvalidInput("rationale: say why the Alternate Basket is in the Fund's best interest.", details={"rationale": ["required"]})
    errors, securities = _line_errors(fund, trade_date, lines)
    _refuse(errors, "the draft is refused")
    basket = AlternateBasket(fund=fund, trade_date=trade_date, purpose=purpose, rationale=rationale.strip(), drafted_by=actor, drafted_at=now)
    basket._history_user = actor
    basket.save()
    _write_lines(basket, lines, securities, actor)
    _event(basket, "", actor, now, f"Drafted with {len(lines)} line(s).")
    return basket


@transaction.atomic
def alternate_basket_revise(
    *, actor, basket: AlternateBasket, lines: list[DraftLine], rationale: str | None = None, purpose: str | None = None,
    now: dt.datetime | None = None,
) -> AlternateBasket:
    """Replace a draft's lines (and rationale/purpose). Only drafts change; after submission nothing does."""
    now = now or timezone.now()
    basket = AlternateBasket.objects.select_for_update().get(pk=basket.pk)
    if basket.status != AlternateBasket.Status.DRAFT:
        raise InvalidTransition(f"{basket} is {basket.get_status_display().lower()}: only a draft can be changed.")
    errors, securities = _line_errors(basket.fund, basket.trade_date, lines)
    _refuse(errors, "the draft is refused")
    if purpose is not None:
        if purpose not in AlternateBasket.Purpose.values:
            raise InvalidInput(f"purpose: one of {', '.join(AlternateBasket.Purpose.values)}.", details={"purpose": ["invalid"]})
        basket.purpose = purpose
    if rationale is not None:
        if not rationale.strip():
            raise InvalidInput("rationale: required.", details={"rationale": ["required"]})
        basket.rationale = rationale.strip()
    for component in basket.components.all():
        component._history_user = actor
        component.delete()
    _write_lines(basket, lines, securities, actor)
    basket._history_user = actor
    basket.save()
    _event(basket, basket.status, actor, now, f"Revised: {len(lines)} line(s).")
    return basket


def _prior_closes(security_ids: list[int], trade_date: dt.date) -> tuple[dict[int, Decimal], dt.date]:
    prior = business_calendar.previous_business_day(trade_date)
    return dict(DailyPrice.objects.filter(date=prior, security_id__in=security_ids).values_list("security_id", "close")), prior


def alternate_basket_checks(basket: AlternateBasket, now: dt.datetime) -> dict:
    """The automatic checks of the Fund's written basket policy, as a report (kept as the A.9(c)(ii) record)."""
    components = list(basket.components.select_related("security"))
    lines = [DraftLine(c.security.ticker, c.quantity, c.no_front_running_risk) for c in components]
    line_errors, _ = _line_errors(basket.fund, basket.trade_date, lines)
    checks: list[dict] = [{"check": "lines (known, positive, permissible, not protected)", "passed": not line_errors, "detail": line_errors}]
    unattested = [c.security.ticker for c in components if not c.no_front_running_risk]
    checks.append({"check": "attestation: no front-running or free-riding risk for each security", "passed": not unattested,
                   "detail": [f"{t}: not attested" for t in unattested]})
    policy = selectors.basket_policy_for(fund=basket.fund)
    count = len(components)
    too_few = count < policy.alternate_min_names
    too_many = policy.alternate_max_names is not None and count > policy.alternate_max_names
    checks.append({"check": "name count", "passed": not (too_few or too_many),
                   "detail": [f"{count} securities; the policy allows {policy.alternate_min_names} to {policy.alternate_max_names or 'any number'}"]})
    report = {"checked_at": now.isoformat(), "policy": {
        "max_active_share_pct": str(policy.alternate_max_active_share_pct), "min_names": policy.alternate_min_names,
        "max_names": policy.alternate_max_names, "value_tolerance_pct": str(policy.alternate_value_tolerance_pct)}}

    substitute = SubstituteBasket.objects.current().filter(fund=basket.fund, trade_date=basket.trade_date).first()
    closes, prior = _prior_closes([c.security_id for c in components], basket.trade_date)
    unpriced = [c.security.ticker for c in components if c.security_id not in closes]
    checks.append({"check": f"readily available quotation (close of {prior.isoformat()})", "passed": not unpriced,
                   "detail": [f"{t}: no close" for t in unpriced]})
    if substitute is None:
        checks.append({"check": "Substitute Basket of the day published", "passed": False,
                       "detail": [f"no Substitute Basket for {basket.trade_date.isoformat()} yet: submit after it is published"]})
    elif not unpriced and components:
        nav_per_unit = substitute.nav_per_creation_unit
        values = {c.security_id: c.quantity * closes[c.security_id] for c in components}
        value = sum(values.values(), Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)
        cash = (nav_per_unit - value).quantize(CENT, rounding=ROUND_HALF_UP)
        floor = nav_per_unit * (1 - policy.alternate_value_tolerance_pct / 100)
        checks.append({"check": "value within tolerance of NAV per Creation Unit (cash makes up the rest)",
                       "passed": floor <= value <= nav_per_unit,
                       "detail": [f"securities {value} against NAV per Creation Unit {nav_per_unit.quantize(CENT)}: cash {cash}; "
                                  f"allowed {floor.quantize(CENT)} to {nav_per_unit.quantize(CENT)}"]})
        if cash < 0:
            # securities worth more than NAV leave a negative cash line: no active share to measure (the value check fails)
            active_pct = None
            checks.append({"check": "active share against the day's Substitute Basket", "passed": False,
                           "detail": ["not computed: the securities are worth more than NAV per Creation Unit (negative cash)"]})
        else:
            alternate_w = pd.Series({sid: float(v / nav_per_unit) for sid, v in values.items()})
            substitute_w = pd.Series({c.security_id: float(c.market_value / nav_per_unit)
                                      for c in substitute.components.all() if not c.cash_in_lieu})
            active = metrics.active_share(substitute_w, alternate_w, portfolio_cash=float(substitute.cash_amount / nav_per_unit),
                                          basket_cash=float(cash / nav_per_unit)) * 100
            active_pct = Decimal(str(round(active, 4)))
            checks.append({"check": "active share against the day's Substitute Basket", "passed": active_pct <= policy.alternate_max_active_share_pct,
                           "detail": [f"{active_pct}% (policy: at most {policy.alternate_max_active_share_pct}%) against version {substitute.version}"]})
        report.update({"substitute_basket_id": substitute.pk, "value_per_creation_unit": str(value), "cash_per_creation_unit": str(cash),
                       "nav_per_creation_unit": str(nav_per_unit), "active_share_pct": None if active_pct is None else str(active_pct),
                       "prices_as_of": prior.isoformat()})
    report["checks"] = checks
    report["passed"] = all(check["passed"] for check in checks)
    return report


@transaction.atomic
def alternate_basket_submit(*, actor, basket: AlternateBasket, now: dt.datetime | None = None) -> AlternateBasket:
    """Run the automatic checks; only a basket that passes them all is submitted (a failure changes nothing)."""
    now = now or timezone.now()
    basket = AlternateBasket.objects.select_for_update().select_related("fund").get(pk=basket.pk)
    if basket.status != AlternateBasket.Status.DRAFT:
        raise InvalidTransition(f"{basket} is {basket.get_status_display().lower()}: only a draft can be submitted.")
    report = alternate_basket_checks(basket, now)
    if not report["passed"]:
        failed = [f"{c['check']}: {'; '.join(c['detail'])}" for c in report["checks"] if not c["passed"]]
        raise InvalidInput("The Alternate Basket fails the Fund's basket policy: " + " | ".join(failed), details={"checks": report["checks"]})
    basket.check_report = report
    basket.check_report_sha256 = sha256_hex(canonical_json(report).encode("utf-8"))
    basket.value_per_creation_unit = Decimal(report["value_per_creation_unit"])
    basket.cash_per_creation_unit = Decimal(report["cash_per_creation_unit"])
    basket.submitted_by, basket.submitted_at = actor, now
    return _step(basket, "submit", actor, now, "Submitted: every policy check passed.", check_report_sha256=basket.check_report_sha256)


def _decide(actor, basket: AlternateBasket, now: dt.datetime) -> AlternateBasket:
    basket = AlternateBasket.objects.select_for_update().select_related("fund").get(pk=basket.pk)
    if basket.status != AlternateBasket.Status.SUBMITTED:
        raise InvalidTransition(f"{basket} is {basket.get_status_display().lower()}: only a submitted basket can be decided.",
                                details={"status": basket.status})
    if actor.pk in (basket.drafted_by_id, basket.submitted_by_id):
        raise FourEyesViolation(f"{actor} drafted or submitted {basket}: a second person must approve or reject it (four eyes).")
    if not actor.has_perm(APPROVE_PERMISSION):
        raise NotEntitled(f"{actor} may not approve or reject Alternate Baskets (Portfolio Managers only).")
    return basket


def alternate_basket_payload(basket: AlternateBasket) -> dict:
    """What every AP receives: the basket per Creation Unit. Never the rationale or the policy checks."""
    components = basket.components.select_related("security").order_by("security__ticker")
    return {
        "alternate_basket_id": basket.pk,
        "creation_unit_size": basket.fund.creation_unit_size,
        "value_per_creation_unit": str(basket.value_per_creation_unit),
        "estimated_cash_per_creation_unit": str(basket.cash_per_creation_unit),
        "prices_as_of": basket.check_report.get("prices_as_of"),
        "components": [{"ticker": c.security.ticker, "cusip": c.security.cusip, "description": c.security.description,
                        "quantity": str(c.quantity)} for c in components],
    }


@transaction.atomic
def alternate_basket_approve(
    *, actor, basket: AlternateBasket, release_at: dt.datetime | None = None, note: str = "", now: dt.datetime | None = None,
) -> AlternateBasket:
    """Approve (not one's own draft) and commit its Publication: every AP receives it at ``release_at`` (default: now)."""
    now = now or timezone.now()
    basket = _decide(actor, basket, now)
    release_at = release_at or now
    close = business_calendar.session_close(basket.trade_date)
    if release_at >= close:
        raise InvalidInput(f"release_at: must be before the close of {basket.trade_date.isoformat()}.", details={"release_at": ["after the close"]})
    if release_at < now:
        release_at = now  # never back-dated: released to all APs from the moment it is committed
    basket.decided_by, basket.decided_at, basket.decision_note, basket.release_at = actor, now, note.strip(), release_at
    _step(basket, "approve", actor, now, f"Approved; released to every AP at {release_at.isoformat()}.")
    publication_append(kind=Publication.Kind.ALTERNATE_BASKET, fund=basket.fund, trade_date=basket.trade_date, release_at=release_at,
                       payload=alternate_basket_payload(basket), actor=actor, now=now, alternate_basket=basket)
    if release_at <= now:
        _step(basket, "disseminate", actor, now, "Released to every AP.")
    return basket


@transaction.atomic
def alternate_basket_reject(*, actor, basket: AlternateBasket, note: str, now: dt.datetime | None = None) -> AlternateBasket:
    now = now or timezone.now()
    if not (note or "").strip():
        raise InvalidInput("note: say why the Alternate Basket is rejected.", details={"note": ["required"]})
    basket = _decide(actor, basket, now)
    basket.decided_by, basket.decided_at, basket.decision_note = actor, now, note.strip()
    return _step(basket, "reject", actor, now, f"Rejected: {note.strip()}")


def alternate_baskets_release_due(*, actor, now: dt.datetime | None = None) -> list[AlternateBasket]:
    """APPROVED -> DISSEMINATED once the release time has passed; APPROVED/DISSEMINATED -> EXPIRED after their day."""
    now = now or timezone.now()
    today = business_calendar.business_date(now)
    changed = []
    with transaction.atomic():
        for basket in AlternateBasket.objects.select_for_update().filter(
            status__in=[AlternateBasket.Status.APPROVED, AlternateBasket.Status.DISSEMINATED]
        ):
            if basket.trade_date < today:
                changed.append(_step(basket, "expire", actor, now, f"Expired after {basket.trade_date.isoformat()}."))
            elif basket.status == AlternateBasket.Status.APPROVED and basket.release_at and basket.release_at <= now:
                changed.append(_step(basket, "disseminate", actor, now, "Released to every AP."))
    return changed


def alternate_basket_usable(*, basket_id: int, fund: Fund, on: dt.date, at: dt.datetime) -> AlternateBasket:
    """The Alternate Basket an order may name: the Fund's own, for that day, released, not expired."""
    basket = AlternateBasket.objects.filter(pk=basket_id).select_related("fund").first()
    released = (basket is not None and basket.release_at is not None and basket.release_at <= at
                and basket.status in (AlternateBasket.Status.APPROVED, AlternateBasket.Status.DISSEMINATED))
    if basket is None or basket.fund_id != fund.pk or not released:
        # another Fund's basket, or one not yet released, answers like a missing one
        raise InvalidInput(
            f"alternate_basket_id: no disseminated Alternate Basket {basket_id} for {fund.ticker} on {on.isoformat()}.",
            details={"alternate_basket_id": ["not a disseminated Alternate Basket of this Fund"]},
        )
    if basket.trade_date != on:
        when = "has expired" if basket.trade_date < on else "cannot be used before that day"
        raise InvalidInput(
            f"alternate_basket_id: Alternate Basket {basket_id} is for {basket.trade_date.isoformat()}, not {on.isoformat()}; it {when}.",
            details={"alternate_basket_id": ["expired" if basket.trade_date < on else "not for this day"]},
        )
    return basket
