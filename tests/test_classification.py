"""企业分类: an enterprise is a risk enterprise when, within the last 3 years (default), it had a risk event or it
makes a product needing a licence / CCC certificate that is missing or expired; the reasons are kept.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enterprises.models import Enterprise, ReasonKind, RiskClass, RiskEventKind, RiskReason, SupervisionPolicy
from enterprises.services import enterprises_classify
from products.models import LicenceType

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, RiskEventFactory, TownFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

AS_OF = dt.date(2026, 6, 30)
WINDOW_START = dt.date(2023, 6, 30)  # the same calendar day 3 years earlier


def classified(enterprise: Enterprise, as_of: dt.date = AS_OF) -> Enterprise:
    enterprises_classify(as_of=as_of)
    enterprise.refresh_from_db()
    return enterprise


def reasons_of(enterprise: Enterprise) -> dict[str, tuple[int, dt.date | None]]:
    return {reason.kind: (reason.count, reason.last_on) for reason in RiskReason.objects.filter(enterprise=enterprise)}


@pytest.mark.parametrize("kind", RiskEventKind.values)
def test_each_kind_of_risk_event_makes_a_risk_enterprise_and_is_kept_as_its_reason(kind):
    event = RiskEventFactory(kind=kind, occurred_on=dt.date(2025, 11, 3))
    enterprise = classified(event.enterprise)
    assert enterprise.risk_class == RiskClass.RISK
    assert reasons_of(enterprise) == {kind: (1, dt.date(2025, 11, 3))}


def test_enterprise_without_events_or_licence_problems_is_non_risk():
    enterprise = EnterpriseFactory()
    EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(licence_type=LicenceType.NONE))
    enterprise = classified(enterprise)
    assert enterprise.risk_class == RiskClass.NON_RISK
    assert reasons_of(enterprise) == {}


def test_reason_counts_the_events_of_its_kind_in_the_window_and_keeps_the_latest_date():
    enterprise = EnterpriseFactory()
    for day in [dt.date(2024, 1, 5), dt.date(2026, 3, 1), dt.date(2025, 2, 2), dt.date(2020, 1, 1)]:
        RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.NONCONFORMING_SPOT_CHECK, occurred_on=day)
    RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.PENALTY, occurred_on=dt.date(2024, 8, 8))
    assert reasons_of(classified(enterprise)) == {
        RiskEventKind.NONCONFORMING_SPOT_CHECK: (3, dt.date(2026, 3, 1)),  # the 2020 event is outside the window
        RiskEventKind.PENALTY: (1, dt.date(2024, 8, 8)),
    }


def test_event_exactly_three_years_before_as_of_counts():
    event = RiskEventFactory(occurred_on=WINDOW_START)
    assert classified(event.enterprise).risk_class == RiskClass.RISK


def test_event_one_day_before_the_window_does_not_count():
    event = RiskEventFactory(occurred_on=WINDOW_START - dt.timedelta(days=1))
    assert classified(event.enterprise).risk_class == RiskClass.NON_RISK


def test_event_on_as_of_counts():
    event = RiskEventFactory(occurred_on=AS_OF)
    assert classified(event.enterprise).risk_class == RiskClass.RISK


def test_event_after_as_of_does_not_count():
    event = RiskEventFactory(occurred_on=AS_OF + dt.timedelta(days=1))
    assert classified(event.enterprise).risk_class == RiskClass.NON_RISK


def test_window_ending_on_29_february_starts_on_28_february():
    counted = RiskEventFactory(occurred_on=dt.date(2025, 2, 28))
    not_counted = RiskEventFactory(occurred_on=dt.date(2025, 2, 27))
    enterprises_classify(as_of=dt.date(2028, 2, 29))
    assert Enterprise.objects.get(pk=counted.enterprise_id).risk_class == RiskClass.RISK
    assert Enterprise.objects.get(pk=not_counted.enterprise_id).risk_class == RiskClass.NON_RISK


def test_edited_risk_window_takes_effect():
    event = RiskEventFactory(occurred_on=dt.date(2024, 12, 1))
    assert classified(event.enterprise).risk_class == RiskClass.RISK
    SupervisionPolicy.objects.create(risk_window_years=1, reason="only the last year counts")
    assert classified(event.enterprise).risk_class == RiskClass.NON_RISK


@pytest.mark.parametrize("licence_type", [LicenceType.PRODUCTION_LICENCE, LicenceType.CCC])
def test_missing_licence_number_for_a_licence_product_makes_a_risk_enterprise(licence_type):
    made = EnterpriseProductFactory(product=ProductFactory(licence_type=licence_type), licence_number="")
    enterprise = classified(made.enterprise)
    assert enterprise.risk_class == RiskClass.RISK
    assert reasons_of(enterprise) == {ReasonKind.LICENCE_MISSING: (1, None)}


@pytest.mark.parametrize("licence_type", [LicenceType.PRODUCTION_LICENCE, LicenceType.CCC])
def test_expired_licence_for_a_licence_product_makes_a_risk_enterprise(licence_type):
    expiry = AS_OF - dt.timedelta(days=1)
    made = EnterpriseProductFactory(
        product=ProductFactory(licence_type=licence_type), licence_number="XK06-001-00001", licence_expiry=expiry
    )
    enterprise = classified(made.enterprise)
    assert enterprise.risk_class == RiskClass.RISK
    assert reasons_of(enterprise) == {ReasonKind.LICENCE_EXPIRED: (1, expiry)}


def test_licence_valid_until_as_of_is_not_expired():
    made = EnterpriseProductFactory(
        product=ProductFactory(licence_type=LicenceType.CCC), licence_number="2026010701000001", licence_expiry=AS_OF
    )
    assert classified(made.enterprise).risk_class == RiskClass.NON_RISK


def test_valid_licence_for_a_licence_product_keeps_the_enterprise_non_risk():
    made = EnterpriseProductFactory(
        product=ProductFactory(licence_type=LicenceType.PRODUCTION_LICENCE),
        licence_number="XK06-001-00002",
        licence_expiry=dt.date(2029, 1, 1),
    )
    assert classified(made.enterprise).risk_class == RiskClass.NON_RISK


def test_product_needing_no_licence_never_makes_a_licence_reason():
    enterprise = EnterpriseFactory()
    EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(licence_type=LicenceType.NONE), licence_number="")
    EnterpriseProductFactory(
        enterprise=enterprise,
        product=ProductFactory(licence_type=LicenceType.NONE),
        licence_number="OLD-1",
        licence_expiry=dt.date(2020, 1, 1),
    )
    enterprise = classified(enterprise)
    assert enterprise.risk_class == RiskClass.NON_RISK
    assert reasons_of(enterprise) == {}


def test_licence_problems_and_events_are_all_kept_as_reasons():
    enterprise = EnterpriseFactory()
    EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(licence_type=LicenceType.CCC), licence_number="")
    EnterpriseProductFactory(enterprise=enterprise, product=ProductFactory(licence_type=LicenceType.CCC), licence_number="")
    EnterpriseProductFactory(
        enterprise=enterprise,
        product=ProductFactory(licence_type=LicenceType.PRODUCTION_LICENCE),
        licence_number="XK06-001-00003",
        licence_expiry=dt.date(2026, 1, 31),
    )
    RiskEventFactory(enterprise=enterprise, kind=RiskEventKind.RECALL, occurred_on=dt.date(2026, 2, 1))
    assert reasons_of(classified(enterprise)) == {
        ReasonKind.LICENCE_MISSING: (2, None),
        ReasonKind.LICENCE_EXPIRED: (1, dt.date(2026, 1, 31)),
        ReasonKind.RECALL: (1, dt.date(2026, 2, 1)),
    }


def test_enterprise_loses_its_risk_class_when_its_events_age_out():
    event = RiskEventFactory(occurred_on=dt.date(2023, 7, 15))
    assert classified(event.enterprise, as_of=dt.date(2026, 7, 15)).risk_class == RiskClass.RISK
    report = enterprises_classify(as_of=dt.date(2026, 7, 16))
    assert report["became_non_risk"] == 1
    enterprise = Enterprise.objects.get(pk=event.enterprise_id)
    assert enterprise.risk_class == RiskClass.NON_RISK
    assert reasons_of(enterprise) == {}


def test_renewed_licence_clears_the_risk_class():
    made = EnterpriseProductFactory(product=ProductFactory(licence_type=LicenceType.CCC), licence_number="")
    assert classified(made.enterprise).risk_class == RiskClass.RISK
    made.licence_number, made.licence_expiry = "2026010701000002", dt.date(2031, 6, 30)
    made.save()
    assert classified(made.enterprise).risk_class == RiskClass.NON_RISK


def test_classifying_twice_changes_nothing_the_second_time():
    town = TownFactory()
    for day in [dt.date(2024, 5, 5), dt.date(2026, 1, 1)]:
        RiskEventFactory(enterprise=EnterpriseFactory(town=town), occurred_on=day)
    EnterpriseProductFactory(enterprise=EnterpriseFactory(town=town), product=ProductFactory(licence_type=LicenceType.CCC))
    EnterpriseFactory.create_batch(3, town=town)
    first = enterprises_classify(as_of=AS_OF)
    assert (first["became_risk"], first["became_non_risk"], first["risk_enterprises"]) == (3, 0, 3)
    stamped = dict(Enterprise.objects.values_list("pk", "classified_at"))
    reasons = sorted(RiskReason.objects.values_list("enterprise_id", "kind", "count", "last_on"))
    second = enterprises_classify(as_of=AS_OF)
    assert (second["became_risk"], second["became_non_risk"], second["risk_enterprises"]) == (0, 0, 3)
    assert dict(Enterprise.objects.values_list("pk", "classified_at")) == stamped
    assert sorted(RiskReason.objects.values_list("enterprise_id", "kind", "count", "last_on")) == reasons


def _queries_to_classify(enterprises: int) -> int:
    town = TownFactory()
    licence_product = ProductFactory(licence_type=LicenceType.CCC)
    for serial in range(enterprises):
        enterprise = EnterpriseFactory(town=town)
        if serial % 3 == 0:
            RiskEventFactory(enterprise=enterprise, occurred_on=dt.date(2025, 1, 1))
        if serial % 4 == 0:
            EnterpriseProductFactory(enterprise=enterprise, product=licence_product)
    with CaptureQueriesContext(connection) as captured:
        enterprises_classify(as_of=AS_OF)
    return len(captured)


def test_classification_query_count_does_not_grow_with_enterprises():
    small = _queries_to_classify(5)
    Enterprise.objects.all().delete()
    assert _queries_to_classify(60) == small
