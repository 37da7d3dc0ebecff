"""The orders admin driven through the test client by users holding the real roles (issue 4)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice import roles
from funds import services as fund_services
from funds.models import SharesOutstandingEntry, Strike
from orders import services
from orders.models import (
    AuthorizedParticipant,
    AuthorizedParticipantAgreement,
    AuthorizedParticipantHolding,
    AuthorizedParticipantUser,
    CreationBasketRecord,
    FundOrderTerms,
    Order,
    OrderEvent,
)
from tests.factories import FundFactory, UserFactory
from tests.orders_fixtures import TRADE_DATE, et, make_agreement, make_participant, trading_day  # noqa: F401

pytestmark = pytest.mark.django_db

AP_URL = "/admin/orders/authorizedparticipant/"
AGREEMENT_URL = "/admin/orders/authorizedparticipantagreement/"
ORDER_URL = "/admin/orders/order/"


@pytest.fixture(autouse=True)
def _media_and_roles(settings, tmp_path, db):
    settings.MEDIA_ROOT = tmp_path / "media"
    if not Group.objects.filter(name=roles.AP_RELATIONSHIP).exists():
        roles.sync_roles()  # a transactional test ran before and flushed the groups the data migration made


def login(client, *role_names):
    user = UserFactory(roles=list(role_names))
    client.force_login(user)
    return user


def ap_form(**overrides) -> dict:
    data = {
        "legal_name": "Gamma Markets LLC", "dtc_participant_number": "0303", "status": "ACTIVE",
        "nscc_member": "on", "nscc_process": "on", "dtc_process": "on", "fund_relationship": "NONE",
        "contact_name": "Gamma desk", "contact_email": "desk@gamma.example.com", "contact_phone": "", "operations_email": "",
    }
    data.update(overrides)
    return data


def text(response) -> str:
    return response.content.decode()


def priced_order(td, actor) -> Order:
    """An in-kind creation of 2 Creation Units, received 10:00 ET and priced at the Intra-Day NAV."""
    placed = services.order_place(
        actor=td.user_one, participant=td.ap_one, idempotency_key="admin-k-1", received_at=et(TRADE_DATE, 10, 0),
        request=services.OrderRequest(fund="BSKT", side="CREATE", creation_units=2, basket_type="STANDARD", settlement_channel="NSCC"),
    )
    fund_services.nav_strike(fund_id=td.fund.pk, day=TRADE_DATE, strike=Strike.INTRADAY, actor=actor, now=et(TRADE_DATE, 12, 1))
    services.orders_price_due(actor=actor, now=et(TRADE_DATE, 12, 1))
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.PRICED
    return order


# --- Authorized Participants ------------------------------------------------------------------


def test_ap_relationship_creates_an_ap_through_the_add_form(client):
    # given
    staff = login(client, roles.AP_RELATIONSHIP)
    # when
    response = client.post(f"{AP_URL}add/", ap_form())
    # then
    assert response.status_code == 302, text(response)
    participant = AuthorizedParticipant.objects.get(legal_name="Gamma Markets LLC")
    assert participant.dtc_participant_number == "0303" and participant.nscc_process and participant.dtc_process
    assert participant.history.get().history_user == staff
    listing = client.get(AP_URL)
    assert listing.status_code == 200 and "Gamma Markets LLC" in text(listing)
    assert "Gamma Markets LLC" in text(client.get(f"{AP_URL}?in_force=no"))  # no agreement yet
    assert "Gamma Markets LLC" not in text(client.get(f"{AP_URL}?in_force=yes"))
    change = client.get(f"{AP_URL}{participant.pk}/change/")
    assert change.status_code == 200 and "AP users" in text(change)

    # when: suspended through the change form (the read-only inlines post only their management forms)
    inlines = {f"{prefix}-{key}": value for prefix in ("users", "agreements")
               for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"), ("MIN_NUM_FORMS", "0"), ("MAX_NUM_FORMS", "0"))}
    response = client.post(f"{AP_URL}{participant.pk}/change/", {**ap_form(status="SUSPENDED"), **inlines})
    assert response.status_code == 302, text(response)
    participant.refresh_from_db()
    assert participant.status == AuthorizedParticipant.Status.SUSPENDED
    assert participant.history.latest().history_user == staff


def test_the_distributor_is_refused_as_an_ap_with_a_visible_message_and_nothing_saved(client):
    # given: the Funds' Distributor asks to be an AP
    distributor = FundFactory().distributor
    login(client, roles.AP_RELATIONSHIP)
    # when
    response = client.post(f"{AP_URL}add/", ap_form(legal_name=distributor.name))
    # then: the form comes back with the service's refusal, and nothing is written
    assert response.status_code == 200
    assert f"{distributor.name} cannot be an Authorized Participant: its legal name is that of the Distributor" in text(response)
    assert not AuthorizedParticipant.objects.filter(legal_name=distributor.name).exists()
    assert not AuthorizedParticipant.history.filter(legal_name=distributor.name).exists()


def test_constraint_violations_are_form_messages(client):
    login(client, roles.AP_RELATIONSHIP)
    response = client.post(f"{AP_URL}add/", ap_form(nscc_member="", fund_relationship="PROMOTER"))
    assert response.status_code == 200
    assert "The NSCC Process is open to NSCC members only." in text(response)
    assert "may not be Authorized Participants" in text(response)
    assert not AuthorizedParticipant.objects.exists()


def test_nobody_deletes_an_ap(client, actor):
    participant = make_participant(actor, "Delta LLC", "0404")
    login(client, roles.AP_RELATIONSHIP)
    assert client.get(f"{AP_URL}{participant.pk}/delete/").status_code == 403
    client.post(AP_URL, {"action": "delete_selected", "_selected_action": [participant.pk], "post": "yes"})
    assert AuthorizedParticipant.objects.filter(pk=participant.pk).exists()


def test_an_ap_user_is_bound_through_the_service_and_internal_staff_are_refused(client, actor):
    # given
    participant = make_participant(actor, "Delta LLC", "0404")
    trader = UserFactory(username="delta-trader", is_staff=False)
    operations = UserFactory(roles=[roles.OPERATIONS])
    login(client, roles.AP_RELATIONSHIP)
    # when: internal staff are not offered, and refused if posted anyway
    form = client.get("/admin/orders/authorizedparticipantuser/add/")
    assert "delta-trader" in text(form) and operations.username not in text(form)
    refused = client.post("/admin/orders/authorizedparticipantuser/add/", {"user": operations.pk, "participant": participant.pk})
    bound = client.post("/admin/orders/authorizedparticipantuser/add/", {"user": trader.pk, "participant": participant.pk})
    # then
    assert refused.status_code == 200 and "Select a valid choice" in text(refused)
    assert bound.status_code == 302
    assert AuthorizedParticipantUser.objects.get(user=trader).participant == participant
    assert trader.groups.filter(name=roles.AUTHORIZED_PARTICIPANT).exists()


# --- Participant Agreements -------------------------------------------------------------------


def test_agreement_upload_stores_the_sha256_of_the_bytes_and_is_terminated_through_the_change_form(client, actor):
    # given
    participant = make_participant(actor, "Delta LLC", "0404")
    staff = login(client, roles.AP_RELATIONSHIP)
    content = b"%PDF-1.4 Participant Agreement signed by Delta LLC"
    # when: uploaded through the add form
    response = client.post(f"{AGREEMENT_URL}add/", {
        "participant": participant.pk, "version": "1", "signed_on": "2025-01-02", "effective_from": "2025-01-06",
        "document": SimpleUploadedFile("delta.pdf", content, content_type="application/pdf"),
    })
    # then
    assert response.status_code == 302, text(response)
    agreement = AuthorizedParticipantAgreement.objects.get(participant=participant)
    assert agreement.document_sha256 == hashlib.sha256(content).hexdigest()
    assert agreement.document_size == len(content) and agreement.uploaded_by == staff
    page = client.get(f"{AGREEMENT_URL}{agreement.pk}/change/")
    assert agreement.document_sha256 in text(page) and "while in force, then 5 years" in text(page)
    download = client.get(f"{AGREEMENT_URL}{agreement.pk}/document/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == content

    # when: terminated through the change form (only the termination fields are editable)
    response = client.post(f"{AGREEMENT_URL}{agreement.pk}/change/", {
        "terminated_on": "2025-06-30", "termination_reason": "AP withdrew", "version": "9", "signed_on": "2020-01-01",
    })
    # then
    assert response.status_code == 302, text(response)
    agreement.refresh_from_db()
    assert agreement.terminated_on == dt.date(2025, 6, 30) and agreement.termination_reason == "AP withdrew"
    assert agreement.version == 1 and agreement.signed_on == dt.date(2025, 1, 2)
    assert agreement.history.latest().history_user == staff
    assert "2030-06-30" in text(client.get(f"{AGREEMENT_URL}{agreement.pk}/change/"))  # retained until


def test_agreement_form_errors_are_messages_not_500s(client, actor):
    participant = make_participant(actor, "Delta LLC", "0404")
    agreement = make_agreement(actor, participant)
    login(client, roles.AP_RELATIONSHIP)
    duplicate = client.post(f"{AGREEMENT_URL}add/", {
        "participant": participant.pk, "version": "1", "signed_on": "2025-01-06", "effective_from": "2025-01-02",
        "document": SimpleUploadedFile("again.pdf", b"%PDF again"),
    })
    assert duplicate.status_code == 200
    assert "An agreement cannot take effect before it is signed." in text(duplicate)
    no_reason = client.post(f"{AGREEMENT_URL}{agreement.pk}/change/", {"terminated_on": "2025-06-30", "termination_reason": ""})
    assert no_reason.status_code == 200 and "say why the agreement ends." in text(no_reason)
    before_effective = client.post(f"{AGREEMENT_URL}{agreement.pk}/change/", {"terminated_on": "2020-06-30", "termination_reason": "x"})
    assert before_effective.status_code == 200 and "Cannot be before the agreement took effect" in text(before_effective)
    assert AuthorizedParticipantAgreement.objects.get().terminated_on is None


def test_an_agreement_in_its_retention_period_cannot_be_deleted(client, actor):
    # given: one agreement in force, one terminated less than five years ago
    participant = make_participant(actor, "Delta LLC", "0404")
    in_force = make_agreement(actor, participant, version=2)
    terminated = make_agreement(actor, participant, version=1, effective_from=dt.date(2020, 1, 6))
    services.agreement_terminate(actor=actor, agreement=terminated, terminated_on=dt.date.today() - dt.timedelta(days=30), reason="replaced")
    login(client, roles.AP_RELATIONSHIP)
    # when / then: the delete page is refused, and "delete selected" is not a way around it
    for agreement in (in_force, terminated):
        assert client.get(f"{AGREEMENT_URL}{agreement.pk}/delete/").status_code == 403
        assert client.post(f"{AGREEMENT_URL}{agreement.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in text(client.get(AGREEMENT_URL))
    client.post(AGREEMENT_URL, {"action": "delete_selected", "_selected_action": [in_force.pk, terminated.pk], "post": "yes"})
    assert AuthorizedParticipantAgreement.objects.filter(pk__in=[in_force.pk, terminated.pk]).count() == 2


def test_even_a_superuser_deletes_an_agreement_only_after_five_years(client, actor):
    participant = make_participant(actor, "Delta LLC", "0404")
    recent = make_agreement(actor, participant, version=2)
    services.agreement_terminate(actor=actor, agreement=recent, terminated_on=dt.date.today() - dt.timedelta(days=1), reason="ended")
    old = make_agreement(actor, participant, version=1, effective_from=dt.date(2010, 1, 4))
    services.agreement_terminate(actor=actor, agreement=old, terminated_on=dt.date(2015, 1, 5), reason="replaced")
    client.force_login(UserFactory(is_superuser=True))
    assert "delete_selected" not in text(client.get(AGREEMENT_URL))
    assert client.get(f"{AGREEMENT_URL}{recent.pk}/delete/").status_code == 403
    assert client.post(f"{AGREEMENT_URL}{old.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(AuthorizedParticipantAgreement.objects.values_list("pk", flat=True)) == [recent.pk]


def test_history_is_read_only(client, actor):
    participant = make_participant(actor, "Delta LLC", "0404")
    agreement = make_agreement(actor, participant)
    services.agreement_terminate(actor=actor, agreement=agreement, terminated_on=dt.date(2025, 6, 30), reason="ended")
    first = agreement.history.earliest()
    client.force_login(UserFactory(is_superuser=True))
    url = f"{AGREEMENT_URL}{agreement.pk}/history/{first.history_id}/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"terminated_on": "", "termination_reason": ""}).status_code == 403
    agreement.refresh_from_db()
    assert agreement.terminated_on == dt.date(2025, 6, 30)


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.COMPLIANCE, roles.BOARD, roles.PORTFOLIO_MANAGER])
def test_every_internal_role_reads_what_its_permissions_allow(client, actor, role):
    participant = make_participant(actor, "Delta LLC", "0404")
    agreement = make_agreement(actor, participant)
    user = login(client, role)
    for model, obj in [("authorizedparticipant", participant), ("authorizedparticipantagreement", agreement),
                       ("authorizedparticipantuser", None), ("authorizedparticipantholding", None), ("fundorderterms", None),
                       ("order", None), ("orderevent", None), ("creationbasketrecord", None)]:
        allowed = user.has_perm(f"orders.view_{model}")
        listing = client.get(f"/admin/orders/{model}/")
        assert listing.status_code == (200 if allowed else 403), (role, model)
        if obj is not None and allowed:
            page = client.get(f"/admin/orders/{model}/{obj.pk}/change/")
            assert page.status_code == 200 and 'name="_save"' not in text(page), (role, model)  # view only
            assert client.get(f"/admin/orders/{model}/{obj.pk}/history/").status_code == 200
    assert client.get(f"{AP_URL}add/").status_code == 403
    assert client.get(f"{AGREEMENT_URL}{agreement.pk}/document/").status_code == (
        200 if user.has_perm("orders.view_authorizedparticipantagreement") else 403
    )


# --- Fund order terms and AP holdings ---------------------------------------------------------


def test_operations_sets_order_terms_and_a_dtc_fee_below_the_nscc_fee_is_a_form_error(client):
    fund = FundFactory()
    ops = login(client, roles.OPERATIONS)
    url = "/admin/orders/fundorderterms/add/"
    refused = client.post(url, {"fund": fund.pk, "nscc_fixed_fee": "500.00", "dtc_fixed_fee": "250.00", "variable_fee_pct": "3"})
    assert refused.status_code == 200
    assert "The DTC Process fee cannot be below the NSCC Process fee" in text(refused)
    assert "Between 0 and 2 percent" in text(refused)
    assert not FundOrderTerms.objects.exists()
    saved = client.post(url, {"fund": fund.pk, "nscc_fixed_fee": "250.00", "dtc_fixed_fee": "750.00", "variable_fee_pct": "0.05",
                              "cash_order_cutoff": "15:00"})
    assert saved.status_code == 302, text(saved)
    terms = FundOrderTerms.objects.get(fund=fund)
    assert terms.dtc_fixed_fee == D("750.00") and terms.cash_order_cutoff == dt.time(15, 0)
    assert terms.history.get().history_user == ops


def test_a_reported_holding_computes_its_percentage_and_flags_affiliation(client, actor):
    # given: 400,000 Shares outstanding
    fund = FundFactory()
    fund_services.shares_outstanding_launch(fund_id=fund.pk, shares=D("400000"), effective_date=dt.date(2025, 1, 2), actor=actor)
    participant = make_participant(actor, "Delta LLC", "0404")
    login(client, roles.AP_RELATIONSHIP)
    # when: the AP holds 24,000 (6%)
    response = client.post("/admin/orders/authorizedparticipantholding/add/",
                           {"participant": participant.pk, "fund": fund.pk, "as_of": "2025-03-03", "shares": "24000"})
    # then
    assert response.status_code == 302, text(response)
    holding = AuthorizedParticipantHolding.objects.get()
    assert holding.percent_of_fund == D("6.0000") and holding.shares_outstanding == D("400000")
    assert "affiliated person (5%+)" in text(client.get("/admin/orders/authorizedparticipantholding/"))
    # and a day with no shares outstanding is a form error from the service
    refused = client.post("/admin/orders/authorizedparticipantholding/add/",
                          {"participant": participant.pk, "fund": fund.pk, "as_of": "2024-03-01", "shares": "1"})
    assert refused.status_code == 200 and "had no shares outstanding on 2024-03-01" in text(refused)


# --- Orders and A.9 records (one trading day each) --------------------------------------------


def test_only_operations_settles_a_priced_order_from_the_admin(client, trading_day, actor):  # noqa: F811
    # given: a priced order settling on 2021-04-21
    order = priced_order(trading_day, actor)
    settle = {"action": "mark_settled", "_selected_action": [order.pk]}
    outstanding_before = SharesOutstandingEntry.outstanding(trading_day.fund.pk, order.settlement_date)

    # when: AP Relationship staff try: the action is not offered and posting it does nothing
    login(client, roles.AP_RELATIONSHIP)
    listing = client.get(ORDER_URL)
    assert listing.status_code == 200 and order.reference in text(listing) and "mark_settled" not in text(listing)
    client.post(ORDER_URL, settle)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PRICED

    # when: Operations run it
    ops = login(client, roles.OPERATIONS)
    listing = client.get(ORDER_URL)
    assert "mark_settled" in text(listing) and "2021-04-20 10:00:00 ET" in text(listing)
    response = client.post(ORDER_URL, settle, follow=True)

    # then
    assert f"Settled 1 order(s): {order.reference}." in text(response)
    order.refresh_from_db()
    assert order.status == Order.Status.SETTLED and order.settled_on == dt.date(2021, 4, 21) and not order.settled_late
    assert SharesOutstandingEntry.outstanding(trading_day.fund.pk, order.settlement_date) == outstanding_before + 50_000
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.SETTLED, actor=ops).exists()

    # and: running it again is a per-order message, not a 500
    again = client.post(ORDER_URL, settle, follow=True)
    assert again.status_code == 200 and "only a priced order settles; skipped" in text(again)
    page = client.get(f"{ORDER_URL}{order.pk}/change/")
    assert page.status_code == 200 and "Settled on 2021-04-21." in text(page) and 'name="_save"' not in text(page)
    assert client.get("/admin/orders/orderevent/").status_code == 200
    assert client.get(f"{ORDER_URL}{order.pk}/history/").status_code == 200


def test_records_export_as_csv_and_a_failed_settlement_asks_for_a_reason(client, trading_day, actor):  # noqa: F811
    # given
    order = priced_order(trading_day, actor)
    record = CreationBasketRecord.objects.get(order=order)
    tickers = set(record.lines.values_list("ticker", flat=True))

    # when: Compliance exports the A.9(c) records
    login(client, roles.COMPLIANCE)
    assert client.get(f"/admin/orders/creationbasketrecord/{record.pk}/change/").status_code == 200
    response = client.post("/admin/orders/creationbasketrecord/", {"action": "export_csv", "_selected_action": [record.pk]})

    # then
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["ticker"] for row in rows} == tickers and len(tickers) > 0
    assert {row["order_reference"] for row in rows} == {order.reference}
    assert client.get(f"/admin/orders/creationbasketrecord/{record.pk}/delete/").status_code == 403

    # when: Operations mark the settlement failed: first the form, then the reason
    login(client, roles.OPERATIONS)
    fail = {"action": "mark_settlement_failed", "_selected_action": [order.pk]}
    form = client.post(ORDER_URL, fail)
    assert form.status_code == 200 and "Mark settlement failed" in text(form) and order.reference in text(form)
    blank = client.post(ORDER_URL, {**fail, "apply": "1", "reason": ""})
    assert blank.status_code == 200 and Order.objects.get(pk=order.pk).status == Order.Status.PRICED
    done = client.post(ORDER_URL, {**fail, "apply": "1", "reason": "Securities not delivered by the AP"}, follow=True)

    # then
    assert "Marked 1 order(s) failed to settle" in text(done)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and order.failure_reason == "Securities not delivered by the AP"


def test_operations_announce_a_cash_day_in_the_admin_before_the_open(trading_day, client, time_machine):
    from baskets.models import Publication
    from orders.models import CashAnnouncement

    ops = UserFactory(roles=[roles.OPERATIONS])
    client.force_login(ops)
    time_machine.move_to(et(TRADE_DATE, 9, 45), tick=False)  # after the open: refused, nothing written
    form = {"fund": trading_day.fund.pk, "trade_date": "2021-04-20", "applies_to": "BOTH", "extent": "WHOLLY", "reason": "custodian"}
    response = client.post("/admin/orders/cashannouncement/add/", form)
    assert response.status_code == 200 and b"before the open" in response.content
    assert not CashAnnouncement.objects.exists()
    time_machine.move_to(et(TRADE_DATE, 8, 50), tick=False)
    response = client.post("/admin/orders/cashannouncement/add/", form)
    assert response.status_code == 302, response.content[:2000]
    announcement = CashAnnouncement.objects.get()
    assert announcement.announced_by == ops and announcement.publication.kind == Publication.Kind.CASH_ANNOUNCEMENT
