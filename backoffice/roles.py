"""Roles: one Django group each, with exactly the permissions the role needs.

Internal roles work in the Django admin (``is_staff``). External API users are
Authorized Participant users and Investing Fund users; their binding to their
firm arrives with the orders and fof apps. ``sync_roles`` is idempotent and is
called from data migrations whenever an app adds models, so the mapping here
is the single source of truth.
"""

from __future__ import annotations

PORTFOLIO_MANAGER = "Portfolio Manager"
OPERATIONS = "Operations"
AP_RELATIONSHIP = "AP Relationship"
COMPLIANCE = "Compliance"
BOARD = "Board"
AUTHORIZED_PARTICIPANT = "Authorized Participant"
INVESTING_FUND = "Investing Fund"

INTERNAL_ROLES = (PORTFOLIO_MANAGER, OPERATIONS, AP_RELATIONSHIP, COMPLIANCE, BOARD)
EXTERNAL_ROLES = (AUTHORIZED_PARTICIPANT, INVESTING_FUND)
ALL_ROLES = INTERNAL_ROLES + EXTERNAL_ROLES
# Roles allowed to see a Fund's confidential portfolio holdings.
HOLDINGS_ROLES = (PORTFOLIO_MANAGER, OPERATIONS, COMPLIANCE, BOARD)


def _view(*models: str) -> list[str]:
    return [f"{model.split('.')[0]}.view_{model.split('.')[1]}" for model in models]


def _manage(*models: str) -> list[str]:
    perms = []
    for model in models:
        app, name = model.split(".")
        perms += [f"{app}.view_{name}", f"{app}.add_{name}", f"{app}.change_{name}"]
    return perms


FUND_SETUP = ("funds.trust", "funds.adviser", "funds.distributor", "funds.fund")
MARKET_DATA = ("funds.dailyprice", "funds.intradaysnapshot", "funds.sharequote")
PORTFOLIO = ("funds.portfolio", "funds.holding")
# The protected set: Portfolio Managers and Compliance only (not even Operations or the Board).
PROTECTED = ("baskets.protectedsecurity",)
# Published baskets, their spreads and workflow events: read by every internal role (they are public
# data once published); the engine report inside is shown to PMs and Compliance only (baskets/admin.py).
BASKETS = ("baskets.substitutebasket", "baskets.basketcomponent", "baskets.proxyspread", "baskets.basketevent")
BASKET_POLICY = ("baskets.basketpolicy",)
CORRECT_BASKET = "baskets.correct_substitutebasket"
# Alternate Baskets: drafted and approved (four eyes, enforced in the service) by Portfolio Managers.
ALTERNATE_BASKETS = ("baskets.alternatebasket", "baskets.alternatebasketcomponent")
ALTERNATE_BASKET_EVENTS = ("baskets.alternatebasketevent",)
APPROVE_ALTERNATE_BASKET = "baskets.approve_alternatebasket"
# Every Publication that left the system (read-only for everyone; written only by services).
PUBLICATIONS = ("baskets.publication",)
# Its delivery to every AP: the dissemination log (read-only; written only by orders.dissemination).
DISSEMINATIONS = ("orders.disseminationfanout", "orders.dissemination", "orders.disseminationattempt")
NAV_RECORDS = ("funds.netassetvalue", "funds.navstrikefailure", "funds.sharesoutstandingentry")
# Authorized Participants and their agreements: managed by AP Relationship staff.
PARTICIPANTS = (
    "orders.authorizedparticipant", "orders.authorizedparticipantuser", "orders.authorizedparticipantagreement",
    "orders.authorizedparticipantholding",
)
ORDERS = ("orders.order", "orders.orderevent", "orders.creationbasketrecord", "orders.creationbasketrecordline")
ORDER_TERMS = ("orders.fundorderterms",)
CASH_DAYS = ("orders.cashannouncement",)
# Investing Funds (fof): registered through the API, reviewed by AP Relationship or Compliance.
INVESTING_FUNDS = ("fof.investingfund", "fof.investingfundsubadviser", "fof.investingfunduser")
INVESTING_FUND_EVENTS = ("fof.investingfundevent",)
APPROVE_INVESTING_FUND = "fof.approve_investingfund"
# FOF Participation Agreements (condition B.9) and the affiliate lists Investing Funds transmit: written
# by the Investing Fund through the API and by services; staff read them.
FOF_AGREEMENTS = ("fof.participationagreement", "fof.agreementacknowledgment", "fof.participationagreementevent", "fof.affiliatelistversion")
# Countersigning for the Fund (and terminating or declining): Compliance and AP Relationship.
COUNTERSIGN_FOF_AGREEMENT = "fof.countersign_participationagreement"
# Holdings reports sent by Investing Funds through the API, and the limit alerts they raise (read-only records).
FOF_HOLDINGS = ("fof.holdingsreport", "fof.holdingsreportline", "fof.limitalert")
ACKNOWLEDGE_LIMIT_ALERT = "fof.acknowledge_limitalert"

# Permission codenames per role ("app_label.codename"). Nobody gets delete on
# regulated records: retention rules forbid it, and corrections are new rows.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    PORTFOLIO_MANAGER: (
        _view(*FUND_SETUP, "funds.security", *MARKET_DATA, *NAV_RECORDS)
        + _manage(*PORTFOLIO, *PROTECTED, *BASKET_POLICY)
        + _view(*BASKETS)
        + [CORRECT_BASKET]
        + _view(*ORDERS, *ORDER_TERMS)
        + _manage(*ALTERNATE_BASKETS) + _view(*ALTERNATE_BASKET_EVENTS, *PUBLICATIONS) + [APPROVE_ALTERNATE_BASKET]
    ),
    OPERATIONS: (
        _manage(*FUND_SETUP, "funds.security", *MARKET_DATA, *PORTFOLIO)
        + _view(*NAV_RECORDS)
        + ["funds.add_netassetvalue", "funds.add_sharesoutstandingentry"]
        + _view(*BASKETS, *BASKET_POLICY)
        # Operations confirm settlement and failures (orders.services), and set fees and cut-offs.
        + _view(*PARTICIPANTS, *ORDERS) + ["orders.change_order"]
        + _manage(*ORDER_TERMS) + _view(*CASH_DAYS) + ["orders.add_cashannouncement"]
        + _view(*ALTERNATE_BASKETS, *ALTERNATE_BASKET_EVENTS, *PUBLICATIONS, *DISSEMINATIONS)
        + _view(*INVESTING_FUNDS, *INVESTING_FUND_EVENTS, *FOF_AGREEMENTS, *FOF_HOLDINGS)
    ),
    AP_RELATIONSHIP: (
        _view(*FUND_SETUP, "funds.security", "funds.netassetvalue", "baskets.substitutebasket", "baskets.basketcomponent")
        + _manage(*PARTICIPANTS)
        + _view(*ORDERS, *ORDER_TERMS, *PUBLICATIONS, *DISSEMINATIONS)
        + _manage(*INVESTING_FUNDS) + _view(*INVESTING_FUND_EVENTS) + [APPROVE_INVESTING_FUND]
        + _view(*FOF_AGREEMENTS) + [COUNTERSIGN_FOF_AGREEMENT]
        + _view(*FOF_HOLDINGS)
    ),
    COMPLIANCE: (
        _view(*FUND_SETUP, "funds.security", *MARKET_DATA, *PORTFOLIO, *NAV_RECORDS, *PROTECTED, *BASKETS, *BASKET_POLICY)
        + _view(*PARTICIPANTS, *ORDERS, *ORDER_TERMS, *CASH_DAYS)
        + _view(*ALTERNATE_BASKETS, *ALTERNATE_BASKET_EVENTS, *PUBLICATIONS, *DISSEMINATIONS)
        + _manage(*INVESTING_FUNDS) + _view(*INVESTING_FUND_EVENTS) + [APPROVE_INVESTING_FUND]
        + _view(*FOF_AGREEMENTS) + [COUNTERSIGN_FOF_AGREEMENT]
        + _view(*FOF_HOLDINGS) + [ACKNOWLEDGE_LIMIT_ALERT]
    ),
    BOARD: (
        _view(*FUND_SETUP, "funds.security", *PORTFOLIO, "funds.netassetvalue", *BASKETS, *ORDERS, *ALTERNATE_BASKETS, *PUBLICATIONS)
        + _view(*INVESTING_FUNDS, *INVESTING_FUND_EVENTS, *FOF_AGREEMENTS, *FOF_HOLDINGS)
    ),
    AUTHORIZED_PARTICIPANT: [],
    INVESTING_FUND: [],
}


def sync_roles(apps=None) -> None:
    """Create the role groups and set each one's permissions to exactly the mapping above."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or global_apps
    for app_config in registry.get_app_configs():
        # Permissions are normally created after migrate; data migrations need them now.
        if apps is not None:
            app_config.models_module = True
            create_permissions(app_config, apps=registry, verbosity=0)
            app_config.models_module = None
        else:
            create_permissions(app_config, verbosity=0)

    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            perm = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:  # a model of a later migration is synced by that migration
                wanted.append(perm)
        group.permissions.set(wanted)


def user_roles(user) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def user_has_role(user, *roles: str) -> bool:
    if user and user.is_authenticated and user.is_superuser:
        return True
    return bool(user_roles(user) & set(roles))
