"""factory_boy factories for the object graphs the tests build: divisions, catalogue, enterprises, results, staff.

Every factory makes a valid record (a credit code with the right check character, a town under a county
under a city), so a test only spells out what its rule looks at.
"""

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from enterprises.models import Enterprise, EnterpriseProduct, RiskEvent, RiskEventKind, Status
from enterprises.validators import uscc_check_character
from inspections.models import SpotCheckResult
from products.models import HarmSeverity, LicenceType, Product, ProductClass
from regions.models import Level, Region, Role, StaffProfile


def credit_code(serial: int, *, prefix: str = "91339900") -> str:
    """A valid unified social credit code: 8 characters of prefix, a 9-digit serial, the check character."""
    first17 = f"{prefix}{serial:09d}"
    return first17 + uscc_check_character(first17)


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    # Fictional codes (province 34–99) so they never collide with the real Jiaxing divisions (330400…).
    code = factory.Sequence(lambda n: f"{34 + n // 99 % 66:02d}{1 + n % 99:02d}00")
    name = factory.Sequence(lambda n: f"测试市{n}")
    level = Level.CITY


class CountyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    parent = factory.SubFactory(CityFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.parent.code[:4]}{1 + n % 99:02d}")
    name = factory.Sequence(lambda n: f"测试区{n}")
    level = Level.COUNTY


class TownFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    parent = factory.SubFactory(CountyFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.parent.code}{1 + n % 999:03d}")
    name = factory.Sequence(lambda n: f"测试街道{n}")
    level = Level.TOWN


class ProductClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductClass
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:03d}")
    name = factory.Sequence(lambda n: f"测试产品类{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    """A moderate-harm product needing no licence: 2 points, low grade under the default policy."""

    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"TP{n:05d}")
    name = factory.Sequence(lambda n: f"测试产品{n}")
    product_class = factory.SubFactory(ProductClassFactory)
    harm_severity = HarmSeverity.MODERATE
    licence_type = LicenceType.NONE
    vulnerable_users = False


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    credit_code = factory.Sequence(credit_code)
    name = factory.Sequence(lambda n: f"测试制造有限公司{n}")
    town = factory.SubFactory(TownFactory)
    status = Status.ACTIVE


class EnterpriseProductFactory(factory.django.DjangoModelFactory):
    """A product an enterprise makes; licence fields empty (set them for licence products)."""

    class Meta:
        model = EnterpriseProduct

    enterprise = factory.SubFactory(EnterpriseFactory)
    product = factory.SubFactory(ProductFactory)
    licence_number = ""
    licence_expiry = None


class RiskEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskEvent

    enterprise = factory.SubFactory(EnterpriseFactory)
    kind = RiskEventKind.PENALTY
    occurred_on = dt.date(2025, 6, 1)
    source_ref = factory.Sequence(lambda n: f"案件 {n:05d}")


class SpotCheckResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpotCheckResult

    enterprise = factory.SubFactory(EnterpriseFactory)
    product = factory.SubFactory(ProductFactory)
    checked_on = dt.date(2025, 6, 1)
    conforming = True
    lab_report_number = factory.Sequence(lambda n: f"TEST-{n:06d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    password = factory.django.Password("correct horse battery staple")


class StaffProfileFactory(factory.django.DjangoModelFactory):
    """A bureau staff member: a user with a role and a jurisdiction."""

    class Meta:
        model = StaffProfile

    user = factory.SubFactory(UserFactory)
    role = Role.INSPECTOR
    jurisdiction = factory.SubFactory(CountyFactory)
    officer_number = factory.Sequence(lambda n: f"ZJ{n:08d}")
