"""Demo staff: an administrator, a city supervisor, a supervisor and four inspectors per county, and the
three groups that hold their model permissions. All share one published password; never use them live.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import ProtectedError, Q

from regions.models import SUPERVISORY_ROLES, Region, Role, StaffProfile

from .places import COUNTIES

DEMO_PASSWORD = "jiaxing-demo-2026"
CITY_CODE = "330400"
OFFICER_YEAR = "2026"
INSPECTORS_PER_COUNTY = 4
OUR_APPS = ("regions", "products", "enterprises", "inspections")

GROUP_OF_ROLE = {Role.ADMINISTRATOR: "管理员", Role.SUPERVISOR: "监管人员", Role.INSPECTOR: "执法人员"}
GROUP_PERMISSIONS = {
    # No user or group permissions: user accounts are managed by superusers (city level) only, since Django's
    # user admin knows no jurisdiction and would let a county administrator raise their own rights.
    # …and the pipeline's runs, read-only (jiaxing_qs.admin), to follow the nightly run.
    "管理员": Q(content_type__app_label__in=OUR_APPS) | Q(content_type__app_label="jiaxing_qs", codename__startswith="view_pipeline"),
    "监管人员": Q(content_type__app_label__in=OUR_APPS, codename__startswith="view_"),
    "执法人员": Q(content_type__app_label__in=("products", "enterprises", "inspections"), codename__startswith="view_"),
}

# (surname, given name); fixed so the logins do not depend on the seed.
ADMIN_NAME = ("沈", "建华")
CITY_SUPERVISOR_NAME = ("徐", "立新")
COUNTY_SUPERVISOR_NAMES = (("朱", "晓峰"), ("陆", "文斌"), ("钱", "卫东"), ("顾", "海明"), ("许", "国平"), ("姚", "志刚"), ("褚", "建明"))
INSPECTOR_NAMES = (
    *(("张", "伟"), ("王", "芳"), ("李", "强"), ("刘", "洋"), ("陈", "静"), ("杨", "磊"), ("周", "敏")),
    *(("吴", "刚"), ("沈", "丽"), ("金", "鑫"), ("蒋", "军"), ("孙", "婷"), ("朱", "涛"), ("徐", "燕")),
    *(("胡", "斌"), ("钟", "杰"), ("陆", "霞"), ("马", "超"), ("姚", "琳"), ("俞", "峰"), ("费", "雪")),
    *(("屠", "明"), ("盛", "洁"), ("凌", "浩"), ("冯", "娟"), ("汪", "勇"), ("邹", "颖"), ("曹", "鹏")),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    jurisdiction: str  # region code
    surname: str
    given_name: str
    officer_number: str

    @property
    def is_staff(self) -> bool:
        return self.role in SUPERVISORY_ROLES  # they may open /admin/


def demo_user_specs() -> list[DemoUser]:
    def officer(code: str, number: int) -> str:
        return f"{code}{OFFICER_YEAR}{number:04d}"

    specs = [
        DemoUser("admin", Role.ADMINISTRATOR, CITY_CODE, *ADMIN_NAME, officer(CITY_CODE, 1)),
        DemoUser("supervisor", Role.SUPERVISOR, CITY_CODE, *CITY_SUPERVISOR_NAME, officer(CITY_CODE, 2)),
    ]
    inspector_names = iter(INSPECTOR_NAMES)
    for (code, county), name in zip(sorted(COUNTIES.items()), COUNTY_SUPERVISOR_NAMES):
        specs.append(DemoUser(f"supervisor_{county.pinyin}", Role.SUPERVISOR, code, *name, officer(code, 1)))
        for number in range(1, INSPECTORS_PER_COUNTY + 1):
            specs.append(
                DemoUser(f"inspector_{county.pinyin}_{number}", Role.INSPECTOR, code, *next(inspector_names), officer(code, 1 + number))
            )
    return specs


def _groups_upsert() -> tuple[dict[str, Group], int]:
    groups, changed = {}, 0
    for name, permissions in GROUP_PERMISSIONS.items():
        group, created = Group.objects.get_or_create(name=name)
        wanted = set(Permission.objects.filter(permissions).values_list("id", flat=True))
        if created or set(group.permissions.values_list("id", flat=True)) != wanted:
            group.permissions.set(wanted)
            changed += 1
        groups[name] = group
    return groups, changed


class _Password:
    """The demo password's hash, made once: hashing is slow on purpose, and every demo user shares it."""

    def __init__(self):
        self.encoded = ""
        self.verified: dict[str, bool] = {}

    def hash(self) -> str:
        self.encoded = self.encoded or make_password(DEMO_PASSWORD)
        return self.encoded

    def matches(self, encoded: str) -> bool:
        if encoded not in self.verified:
            self.verified[encoded] = check_password(DEMO_PASSWORD, encoded)
        return self.verified[encoded]


def _user_upsert(spec: DemoUser, user, group: Group, region: Region, password: _Password) -> bool:
    """Create or align one demo user, its profile and its group; True when anything was written."""
    User = get_user_model()
    values = {
        # Chinese names are written family name first and whole: Django's get_full_name() joins
        # "first last", so the whole name goes in first_name.
        "last_name": "",
        "first_name": f"{spec.surname}{spec.given_name}",
        "email": f"{spec.username}@demo.jiaxing-qs.example",
        "is_staff": spec.is_staff,
        "is_superuser": spec.role == Role.ADMINISTRATOR,
        "is_active": True,
    }
    changed = user is None
    if user is None:
        user = User.objects.create(username=spec.username, password=password.hash(), **values)
    else:
        stale = {key: value for key, value in values.items() if getattr(user, key) != value}
        if not password.matches(user.password):
            stale["password"] = password.hash()
        if stale:
            User.objects.filter(pk=user.pk).update(**stale)
            changed = True
    profile = {"role": spec.role, "jurisdiction": region, "officer_number": spec.officer_number, "is_demo": True}
    current = getattr(user, "staff_profile", None)
    if current is None or any(getattr(current, key) != value for key, value in profile.items()):
        StaffProfile.objects.update_or_create(user=user, defaults=profile)
        changed = True
    if list(user.groups.values_list("id", flat=True)) != [group.id]:
        user.groups.set([group])
        changed = True
    return changed


@transaction.atomic
def demo_users_upsert() -> dict:
    """The demo groups and users; a user of the same name that is not a demo user is left alone."""
    groups, groups_changed = _groups_upsert()
    specs = demo_user_specs()
    regions = {region.code: region for region in Region.objects.filter(code__in={spec.jurisdiction for spec in specs})}
    existing = {user.username: user for user in get_user_model().objects.filter(username__in=[spec.username for spec in specs])}
    password = _Password()
    changed, skipped = 0, []
    for spec in specs:
        user = existing.get(spec.username)
        profile = getattr(user, "staff_profile", None) if user else None
        if user is not None and (profile is None or not profile.is_demo):
            skipped.append(spec.username)
            continue
        changed += _user_upsert(spec, user, groups[GROUP_OF_ROLE[spec.role]], regions[spec.jurisdiction], password)
    logins = [spec for spec in specs if spec.username not in skipped]
    return {"groups_changed": groups_changed, "users_changed": changed, "skipped": skipped, "logins": logins}


def demo_users_delete() -> tuple[int, int]:
    """Delete demo users; one that something still refers to (e.g. a rule version it created) is kept."""
    User = get_user_model()
    deleted = kept = 0
    for user in User.objects.filter(staff_profile__is_demo=True).order_by("username"):
        try:
            with transaction.atomic():
                user.delete()
            deleted += 1
        except ProtectedError:
            kept += 1
    return deleted, kept
