"""Who may open which page, for whose records: role × page × own/other jurisdiction, generated from the URL resolver.

Every page URL pattern of jiaxing_qs.urls (admin, API, language switch and static files aside: the API has its
own matrix in test_api.py, the admin its own tests in test_admin_scoping.py) needs an entry in ``MATRIX``
giving, for each role, the status it gets on a record of its own jurisdiction and on one of the other county.
The cases are generated from the resolver, so a new page without an entry fails with "add <name> to the
access matrix". Every page a county user is let into is also checked for the other county's names: a status
of 200 must not come with another county's records on it.

Statuses: 200, 403, 404, 405, LOGIN (302 to the login page), MOVED (302 elsewhere: the next page of a flow).
"Own" is the role's own county (county A for the anonymous visitor, the superuser and the user without a role;
county B for the outsider, an administrator of county B); "other" is the other county.

The staff administration (who may create and change staff, roles and jurisdictions) has its own matrix at the
end, ``STAFF_ADMIN``: each case a request on the admin's staff pages and each role's answer, checked together
with what the request changed.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from enterprises.codes import code_for
from enterprises.models import Category
from inspections.models import (
    CheckResult,
    Conclusion,
    DrawArm,
    InspectionPlan,
    InspectionTask,
    PlanStatus,
    RectificationOrder,
    TaskAssignment,
    TaskKind,
    TaskStatus,
)
from inspections.planning.draw import Candidate
from inspections.planning.services import population_record
from jiaxing_qs.demo.users import GROUP_OF_ROLE, GROUP_PERMISSIONS
from products.models import ChecklistItem
from regions.models import Role, StaffProfile

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory

# --- The pages, from the resolver --------------------------------------------------------------------------

NOT_PAGES = ("admin/", "api/", "i18n/", "jsi18n/", "static/")  # covered elsewhere, or not pages of ours


def page_routes() -> dict[str, str]:
    """Every page URL name (with its namespace; the route when unnamed) → its route, walking included patterns."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if route.startswith(NOT_PAGES):
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern):
                found[f"{namespace}{entry.name}" if entry.name else route] = route

    walk(get_resolver().url_patterns, "", "")
    return found


# --- The expectations --------------------------------------------------------------------------------------

LOGIN, MOVED = "login", "moved"
ANON, INSPECTOR, SUPERVISOR, ADMINISTRATOR, OUTSIDER, SUPERUSER, NO_ROLE = (
    "anonymous",
    "inspector",
    "supervisor",
    "administrator",
    "outsider",
    "superuser",
    "no-role",
)
ROLES = (ANON, INSPECTOR, SUPERVISOR, ADMINISTRATOR, OUTSIDER, SUPERUSER, NO_ROLE)
COUNTY_STAFF = (INSPECTOR, SUPERVISOR, ADMINISTRATOR, OUTSIDER)


@dataclass(frozen=True)
class Page:
    """A page's record (None: no record in the URL) and, per method, each role's status: one value, or
    (own jurisdiction, other jurisdiction)."""

    record: str | None
    expect: dict[str, dict[str, object]]
    public: bool = False  # meant for everyone: another county's record may (must) be shown
    data: dict = field(default_factory=dict)  # what a POST sends


def everyone(status) -> dict:
    return dict.fromkeys(ROLES, status)


def staff(changes: dict | None = None) -> dict:
    """A page for every role with a staff profile (and superusers); strangers log in, users without a role are refused."""
    return {ANON: LOGIN, INSPECTOR: 200, SUPERVISOR: 200, ADMINISTRATOR: 200, OUTSIDER: 200, SUPERUSER: 200, NO_ROLE: 403} | (changes or {})


def staff_record(changes: dict | None = None) -> dict:
    """A record page: their jurisdiction's records only (another county's is not found); superusers see all."""
    own_only = (200, 404)
    return staff(dict.fromkeys(COUNTY_STAFF, own_only) | {SUPERUSER: (200, 200)}) | (changes or {})


def planners(changes: dict | None = None) -> dict:
    """A page for supervisors and administrators."""
    return staff({INSPECTOR: 403}) | (changes or {})


def planners_record(own) -> dict:
    """A record page for supervisors and administrators, answering ``own`` for a record of their jurisdiction."""
    return planners(dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER), (own, 404)) | {SUPERUSER: (own, own)})


MATRIX: dict[str, Page] = {
    "regions:home": Page(None, {"GET": staff(dict.fromkeys((*COUNTY_STAFF, SUPERUSER), MOVED))}),
    "regions:map": Page(None, {"GET": staff()}),
    "enterprises:detail": Page("enterprise", {"GET": staff_record()}),
    "enterprises:code-svg": Page("enterprise", {"GET": staff_record()}),
    "enterprises:key-list": Page("county", {"GET": staff_record()}),  # the map panel's full list of a region
    "enterprises:code-png": Page("enterprise", {"GET": staff_record()}),
    "enterprises:code-card": Page("enterprise", {"GET": staff_record()}),
    # Supervisors and administrators only; the role is checked before the method.
    "enterprises:code-revoke": Page(
        "enterprise",
        {"GET": planners(dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER, SUPERUSER), 405)), "POST": planners_record(MOVED)},
        data={"reason": "标签遗失"},
    ),
    # Public (一码): the profile for everyone; the check form for an inspector with an open task there.
    "inspections:quality-code": Page("token", {"GET": everyone(200) | {INSPECTOR: (MOVED, 200)}}, public=True),
    "inspections:plan-list": Page(None, {"GET": planners()}),
    "inspections:plan-new": Page(None, {"GET": planners(), "POST": planners()}),  # an empty form comes back with its errors
    "inspections:plan-detail": Page("plan", {"GET": planners_record(200)}),
    # The method is checked first; approving a dispatched plan is refused with a message on the plan's page.
    "inspections:plan-approve": Page("plan", {"GET": everyone(405), "POST": planners_record(MOVED)}),
    "inspections:plan-notifications-resend": Page("plan", {"GET": everyone(405), "POST": planners_record(MOVED)}),
    "inspections:public-plan": Page("plan", {"GET": everyone(200)}, public=True),  # 一公开
    "inspections:public-plan-population": Page("plan", {"GET": everyone(200)}, public=True),  # what the draw was run on
    # 整改通知: the jurisdiction's orders (another county's are not listed: the leak check below), and their export.
    "inspections:order-list": Page(None, {"GET": planners()}),
    "inspections:order-export": Page(None, {"GET": planners()}),
    "inspections:dashboard": Page(None, {"GET": planners()}),
    "inspections:dashboard-export": Page(None, {"GET": planners()}),
    # Any planner may simulate; adopting changes city-wide rules: city-level staff (here the superuser) only.
    "inspections:simulator": Page(None, {"GET": planners(), "POST": planners(dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER), 403))}),
    # A risk score model is a city-wide rule: every planner reads the page; only city-wide staff adopt (the county's 403).
    "inspections:risk-models": Page(None, {"GET": planners()}),
    "inspections:risk-model-adopt": Page(
        None, {"GET": everyone(405), "POST": planners(dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER), 403) | {SUPERUSER: MOVED})}
    ),
    # The field app's service worker and offline page name no user and hold no records: anyone may fetch them.
    "inspections:service-worker": Page(None, {"GET": everyone(200)}),
    "inspections:field-offline": Page(None, {"GET": everyone(200)}),
    "inspections:my-tasks": Page(None, {"GET": staff()}),
    "inspections:task-detail": Page("open_task", {"GET": staff_record()}),
    # Only the task's two officers fill in its form (an empty one is answered 422); anyone else is refused.
    "inspections:check-form": Page(
        "open_task",
        {
            "GET": staff_record(dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER), (403, 404)) | {SUPERUSER: (403, 403)}),
            "POST": staff_record(
                {INSPECTOR: (422, 404)} | dict.fromkeys((SUPERVISOR, ADMINISTRATOR, OUTSIDER), (403, 404)) | {SUPERUSER: (403, 403)}
            ),
        },
    ),
    "inspections:check-done": Page("done_task", {"GET": staff_record()}),
    # DingTalk's 免登: the page for a visitor, straight on for a logged-in user; an exchange without a bureau's app is refused.
    "inspections:dingtalk-login": Page(None, {"GET": everyone(MOVED) | {ANON: 200}, "POST": everyone(403)}),
    "login": Page(None, {"GET": everyone(200)}),
    "logout": Page(None, {"GET": everyone(405), "POST": everyone(LOGIN)}),
}


def test_every_page_of_the_site_is_in_the_access_matrix():
    routed = set(page_routes())
    assert not sorted(routed - set(MATRIX)), "; ".join(f"add {name} to the access matrix" for name in sorted(routed - set(MATRIX)))
    assert not sorted(set(MATRIX) - routed), f"no such page any more, remove from the access matrix: {sorted(set(MATRIX) - routed)}"


def test_every_entry_names_each_role():
    for name, page in MATRIX.items():
        for method, by_role in page.expect.items():
            assert set(by_role) == set(ROLES), f"{name} {method}: give a status for {sorted(set(ROLES) - set(by_role))}"


def test_the_table_never_lets_county_staff_into_another_countys_record():
    """The matrix itself must not encode a leak: outside public pages, another county's record is 403/404/405."""
    for name, page in MATRIX.items():
        if page.record is None or page.public:
            continue
        for method, by_role in page.expect.items():
            for role in COUNTY_STAFF:
                status = by_role[role]
                other = status[1] if isinstance(status, tuple) else status
                assert other in (403, 404, 405), f"{name} {method} {role}: {other} on another county's record"


def _cases():
    for name in sorted(page_routes()):
        page = MATRIX.get(name)
        if page is None:
            yield pytest.param(name, None, None, None, id=f"{name}-missing")
            continue
        for method in page.expect:
            for role in ROLES:
                for side in ("own", "other") if page.record else (None,):
                    yield pytest.param(name, method, role, side, id="-".join(filter(None, (name, method, role, side))))


# --- The world: the same records in both counties ----------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One county's records, and the names that must not show on another county's pages."""

    enterprise: object
    plan: InspectionPlan
    open_task: InspectionTask
    done_task: InspectionTask
    token: str
    order: RectificationOrder

    @property
    def markers(self) -> list[str]:
        return [self.enterprise.name, self.enterprise.credit_code, self.plan.name, self.order.number]

    def kwargs(self, record: str) -> dict:
        if record == "token":
            return {"token": self.token}
        if record == "county":
            return {"code": self.enterprise.town.parent.code}
        return {"pk": getattr(self, record).pk}


RATIOS = {f"ratio_{c}": Decimal("10") for c in ("tightened", "routine", "responsibility", "credit")}
MULTIPLIERS = {f"multiplier_{c}": Decimal("1") for c in ("red", "orange", "yellow", "green")}


def make_side(town, officers, tag: str) -> Side:
    """An enterprise of ``town`` making a product with a check point and a quality code; a dispatched plan of the
    county with an open task for two officers; a task they have reported on; and a non-conforming check of theirs
    with its rectification order and re-inspection."""
    today = timezone.localdate()
    product = ProductFactory()
    ChecklistItem.objects.create(product=product, order=1, text="标志标识")
    enterprise = EnterpriseFactory(town=town, name=f"{tag}测试制造有限公司")
    EnterpriseProductFactory(enterprise=enterprise, product=product)
    plan = InspectionPlan.objects.create(
        name=f"{tag}年度抽查计划",
        scope=town.parent,
        period_start=today.replace(month=1, day=1),
        period_end=today.replace(month=12, day=31),
        batch_budget=10,
        seed=uuid.uuid4().hex,
        status=PlanStatus.DISPATCHED,
        **RATIOS,
        **MULTIPLIERS,
    )
    population_record(plan, [Candidate(enterprise.pk, enterprise.credit_code, enterprise.name, Category.ROUTINE, None)])
    task = {"enterprise": enterprise, "product": product, "arm": DrawArm.RISK, "reason": "测试", "due_date": today + dt.timedelta(days=30)}
    open_task = InspectionTask.objects.create(plan=plan, status=TaskStatus.ASSIGNED, **task)
    done_task = InspectionTask.objects.create(plan=None, status=TaskStatus.SUBMITTED, **task)
    TaskAssignment.objects.bulk_create(
        [TaskAssignment(task=t, officer=officer, position=n) for t in (open_task, done_task) for n, officer in enumerate(officers, 1)]
    )
    CheckResult.objects.create(
        task=done_task,
        submission_key=uuid.uuid4(),
        number=f"JC-{done_task.pk:06d}",
        conclusion=Conclusion.CONFORMING,
        submitted_by=officers[0],
        co_inspector=officers[1],
        checked_on=today,
    )
    failed_task = InspectionTask.objects.create(plan=None, status=TaskStatus.SUBMITTED, **task)
    failed = CheckResult.objects.create(
        task=failed_task,
        submission_key=uuid.uuid4(),
        number=f"JC-{failed_task.pk:06d}",
        conclusion=Conclusion.NONCONFORMING,
        submitted_by=officers[0],
        co_inspector=officers[1],
        checked_on=today,
    )
    days = dt.timedelta(days=1)
    order = RectificationOrder.objects.create(
        number=f"ZG-{tag}-{failed.pk:06d}",
        enterprise=enterprise,
        product=product,
        result=failed,
        ordered_on=today,
        rectify_by=today + 60 * days,
        reinspect_by=today + 75 * days,
        objection_by=today + 15 * days,
    )
    reinspection = task | {"arm": DrawArm.FOLLOW_UP, "kind": TaskKind.REINSPECTION}
    InspectionTask.objects.create(plan=None, order=order, status=TaskStatus.ASSIGNED, **reinspection)
    return Side(enterprise, plan, open_task, done_task, code_for(enterprise=enterprise).token, order)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Before the users are made: hashing nine passwords properly per case would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(region_tree, inspector, supervisor, administrator, outsider, django_user_model):
    partner = StaffProfileFactory(user=UserFactory(username="inspector_a2"), role=Role.INSPECTOR, jurisdiction=region_tree.county_a).user
    b_officers = [
        StaffProfileFactory(user=UserFactory(username=f"inspector_b{n}"), role=Role.INSPECTOR, jurisdiction=region_tree.county_b).user
        for n in (1, 2)
    ]
    users = {
        ANON: None,
        INSPECTOR: inspector,
        SUPERVISOR: supervisor,
        ADMINISTRATOR: administrator,
        OUTSIDER: outsider,
        SUPERUSER: django_user_model.objects.create_superuser("root", password="x" * 16),
        NO_ROLE: django_user_model.objects.create_user("norole", password="x" * 16),
    }
    sides = {"a": make_side(region_tree.town_a1, [inspector, partner], "甲区"), "b": make_side(region_tree.town_b1, b_officers, "乙县")}
    return users, sides


def sides_of(role: str, sides: dict) -> tuple[Side, Side]:
    """(own, other) for a role."""
    return (sides["b"], sides["a"]) if role == OUTSIDER else (sides["a"], sides["b"])


# --- The matrix ----------------------------------------------------------------------------------------------


def check_status(response, expected, url: str) -> None:
    where = f"{response.request['REQUEST_METHOD']} {url}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}, expected a redirect to log in"
        assert urlparse(response["Location"]).path == reverse(settings.LOGIN_URL), f"{where}: redirected to {response['Location']}"
    elif expected == MOVED:
        assert response.status_code == 302, f"{where}: {response.status_code}, expected a redirect"
        assert urlparse(response["Location"]).path != reverse(settings.LOGIN_URL), f"{where}: sent to log in"
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role", "side"), list(_cases()))
def test_access(client, world, name, method, role, side):
    page = MATRIX.get(name)
    if page is None:
        pytest.fail(f"add {name} to the access matrix")
    users, sides = world
    own, other = sides_of(role, sides)
    record_side = own if side == "own" else other
    url = reverse(name, kwargs=record_side.kwargs(page.record) if page.record else None)
    if users[role] is not None:
        client.force_login(users[role])
    response = client.post(url, page.data) if method == "POST" else client.get(url)
    expected = page.expect[method][role]
    if isinstance(expected, tuple):
        expected = expected[0 if side == "own" else 1]
    check_status(response, expected, url)
    shown = response.status_code in (200, 422) and response["Content-Type"].startswith("text/html")
    if shown and role in COUNTY_STAFF and not (page.public and side == "other"):
        html = response.content.decode()
        leaked = [marker for marker in other.markers if marker in html]
        assert not leaked, f"{url} shows another county's records to the {role}: {leaked}"


@pytest.mark.django_db
def test_a_draft_plan_is_not_published(client, world):
    _users, sides = world
    plan = sides["a"].plan
    plan.status = PlanStatus.DRAFT
    plan.save(update_fields=["status"])
    assert client.get(reverse("inspections:public-plan", args=[plan.pk])).status_code == 404


@pytest.mark.django_db
def test_list_pages_show_the_users_own_records(client, world):
    """The other side of the leak check: the lists are not empty because they hide everything."""
    users, sides = world
    client.force_login(users[SUPERVISOR])
    assert sides["a"].plan.name in client.get(reverse("inspections:plan-list")).content.decode()
    assert sides["a"].order.number in client.get(reverse("inspections:order-list")).content.decode()
    client.force_login(users[OUTSIDER])
    assert sides["b"].plan.name in client.get(reverse("inspections:plan-list")).content.decode()
    assert sides["b"].order.number in client.get(reverse("inspections:order-list")).content.decode()
    client.force_login(users[INSPECTOR])
    assert sides["a"].enterprise.name in client.get(reverse("inspections:my-tasks")).content.decode()


# --- The staff administration: who creates and changes staff, roles and jurisdictions ------------------------
#
# Decision: administrators manage the staff of their own jurisdiction and the divisions inside it — a county's
# administrators their county's and its towns', never a jurisdiction above their own (so never the administrator
# role above their own level); the city's administrators, and superusers, everyone's (regions.access). Supervisors
# read their jurisdiction's staff. Admin pages answer the not-logged-in and non-staff with the admin's login, and a
# record outside the user's reach with a redirect to the admin index (NOT_FOUND, "perhaps it was deleted?").

ADMIN_LOGIN, NOT_FOUND = "admin login", "not found"
CITY_ADMINISTRATOR = "city administrator"
ADMIN_ROLES = (ANON, INSPECTOR, SUPERVISOR, ADMINISTRATOR, OUTSIDER, CITY_ADMINISTRATOR, SUPERUSER, NO_ROLE)
NOT_STAFF = dict.fromkeys((ANON, INSPECTOR, NO_ROLE), ADMIN_LOGIN)


@dataclass(frozen=True)
class StaffCase:
    """A request on the staff admin: ``page`` (add, changelist, change, delete) of ``record`` (a profile of county
    A, county B or the city), posting ``grant`` (whose profile: the newcomer or the superuser; role; where)."""

    page: str
    expect: dict[str, object]
    record: str | None = None
    method: str = "GET"
    grant: tuple[str, str, str] | None = None


def managers(county_a, county_b, city, supervisor=403) -> dict:
    """Answers for the managing roles: the county A administrator, the outsider (county B), the city's, the superuser."""
    return NOT_STAFF | {SUPERVISOR: supervisor, ADMINISTRATOR: county_a, OUTSIDER: county_b, CITY_ADMINISTRATOR: city, SUPERUSER: city}


STAFF_ADMIN: dict[str, StaffCase] = {
    "list": StaffCase("changelist", managers(200, 200, 200, supervisor=200)),
    "add page": StaffCase("add", managers(200, 200, 200)),
    "add an inspector of a county A town": StaffCase(
        "add", managers(MOVED, 200, MOVED), method="POST", grant=("newcomer", Role.INSPECTOR, "town_a1")
    ),
    "add an administrator of county A": StaffCase(
        "add", managers(MOVED, 200, MOVED), method="POST", grant=("newcomer", Role.ADMINISTRATOR, "county_a")
    ),
    "add a supervisor of the city": StaffCase("add", managers(200, 200, MOVED), method="POST", grant=("newcomer", Role.SUPERVISOR, "city")),
    "add an administrator of the city": StaffCase(
        "add", managers(200, 200, MOVED), method="POST", grant=("newcomer", Role.ADMINISTRATOR, "city")
    ),
    "give the superuser a county A profile": StaffCase(
        "add", managers(200, 200, 200) | {SUPERUSER: MOVED}, method="POST", grant=("superuser", Role.INSPECTOR, "county_a")
    ),
    "open county A's inspector": StaffCase("change", managers(200, NOT_FOUND, 200, supervisor=200), record="county_a"),
    "open county B's inspector": StaffCase("change", managers(NOT_FOUND, 200, 200, supervisor=NOT_FOUND), record="county_b"),
    "open the city's supervisor": StaffCase("change", managers(NOT_FOUND, NOT_FOUND, 200, supervisor=NOT_FOUND), record="city"),
    "move county A's inspector up to the city": StaffCase(
        "change", managers(200, NOT_FOUND, MOVED), record="county_a", method="POST", grant=("record", Role.INSPECTOR, "city")
    ),
    "make county A's inspector its administrator": StaffCase(
        "change", managers(MOVED, NOT_FOUND, MOVED), record="county_a", method="POST", grant=("record", Role.ADMINISTRATOR, "county_a")
    ),
    "move county B's inspector into county A": StaffCase(
        "change", managers(NOT_FOUND, 200, MOVED), record="county_b", method="POST", grant=("record", Role.INSPECTOR, "county_a")
    ),
    "change the city's supervisor": StaffCase(
        "change", managers(NOT_FOUND, NOT_FOUND, MOVED), record="city", method="POST", grant=("record", Role.INSPECTOR, "city")
    ),
    "delete county A's inspector": StaffCase("delete", managers(MOVED, NOT_FOUND, MOVED), record="county_a", method="POST"),
    "delete the city's supervisor": StaffCase("delete", managers(NOT_FOUND, NOT_FOUND, MOVED), record="city", method="POST"),
}


def test_every_staff_admin_case_names_each_role():
    for name, case in STAFF_ADMIN.items():
        assert set(case.expect) == set(ADMIN_ROLES), f"{name}: give a status for {sorted(set(ADMIN_ROLES) - set(case.expect))}"


def test_the_staff_matrix_never_lets_a_county_reach_above_or_beside_itself():
    for name, case in STAFF_ADMIN.items():
        if case.method == "POST" and (case.record in ("county_b", "city") or (case.grant and case.grant[2] == "city")):
            assert case.expect[ADMINISTRATOR] != MOVED, name
        if case.method == "POST" and (case.record in ("county_a", "city") or (case.grant and case.grant[2] != "county_b")):
            assert case.expect[OUTSIDER] != MOVED, name


def group_rights(user, role: str):
    """Admin access and the permissions of the demo's group for ``role`` (jiaxing_qs/demo/users.py)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(GROUP_PERMISSIONS[GROUP_OF_ROLE[role]]))
    return user


@pytest.fixture
def staff_world(region_tree, inspector, supervisor, administrator, outsider, django_user_model):
    city_admin = StaffProfileFactory(user=UserFactory(username="city_admin"), role=Role.ADMINISTRATOR, jurisdiction=region_tree.city).user
    users = {
        ANON: None,
        INSPECTOR: inspector,
        # A supervisor holding every permission of the administrators' group: the rule, not a missing permission, refuses.
        SUPERVISOR: group_rights(supervisor, Role.ADMINISTRATOR),
        ADMINISTRATOR: group_rights(administrator, Role.ADMINISTRATOR),
        OUTSIDER: group_rights(outsider, Role.ADMINISTRATOR),
        CITY_ADMINISTRATOR: group_rights(city_admin, Role.ADMINISTRATOR),
        SUPERUSER: django_user_model.objects.create_superuser("root", password="x" * 16),
        NO_ROLE: django_user_model.objects.create_user("norole", password="x" * 16),
    }
    profiles = {
        "county_a": StaffProfileFactory(user=UserFactory(username="inspector_a9"), role=Role.INSPECTOR, jurisdiction=region_tree.county_a),
        "county_b": StaffProfileFactory(user=UserFactory(username="inspector_b9"), role=Role.INSPECTOR, jurisdiction=region_tree.county_b),
        "city": StaffProfileFactory(user=UserFactory(username="city_supervisor"), role=Role.SUPERVISOR, jurisdiction=region_tree.city),
    }
    places = {"town_a1": region_tree.town_a1, "county_a": region_tree.county_a, "city": region_tree.city}
    return users, profiles, places, django_user_model.objects.create_user("newcomer", password="x" * 16)


def check_admin_status(response, expected, where: str) -> None:
    if expected == ADMIN_LOGIN:
        assert response.status_code == 302 and urlparse(response["Location"]).path == reverse("admin:login"), where
    elif expected == NOT_FOUND:
        assert response.status_code == 302 and response["Location"] == reverse("admin:index"), where
    elif expected == MOVED:
        assert response.status_code == 302, f"{where}: {response.status_code}, expected a redirect (saved)"
        assert urlparse(response["Location"]).path not in (reverse("admin:login"), reverse("admin:index")), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role"), [(name, role) for name in STAFF_ADMIN for role in ADMIN_ROLES])
def test_staff_administration(client, staff_world, name, role):
    users, profiles, places, newcomer = staff_world
    case = STAFF_ADMIN[name]
    record = profiles.get(case.record)
    url = reverse(f"admin:regions_staffprofile_{case.page}", args=[record.pk] if record else None)
    data = {}
    if case.grant:
        whose, granted_role, where = case.grant
        target = {"newcomer": newcomer, "superuser": users[SUPERUSER], "record": record and record.user}[whose]
        data = {"user": target.pk, "role": granted_role, "jurisdiction": places[where].pk, "officer_number": "", "phone": "", "_save": "1"}
    elif case.page == "delete":
        data = {"post": "yes"}
    if users[role] is not None:
        client.force_login(users[role])
    response = client.post(url, data) if case.method == "POST" else client.get(url)
    expected = case.expect[role]
    check_admin_status(response, expected, f"{name}: {role} {case.method} {url}")

    saved = expected == MOVED
    if case.page == "add" and case.method == "POST":
        assert StaffProfile.objects.filter(user=target).exists() == saved, f"{name}: {role}"
    elif case.page == "change" and case.method == "POST":
        record.refresh_from_db()
        assert ((record.role, record.jurisdiction) == (granted_role, places[where])) == saved, f"{name}: {role}"
    elif case.page == "delete":
        assert StaffProfile.objects.filter(pk=record.pk).exists() != saved, f"{name}: {role}"


# --- The province: province-, city- and county-level staff over two cities ------------------------------------
#
# The test city (counties A and B) sits in a province beside a second city C with one county. The same pages, the
# same records: staff of the province reach both cities as superusers reach everything (and, being the top
# division, change the shared rules); staff of the city reach their city's counties only, and are refused the other
# city's records and the shared rules as a county's staff are. The statuses come from the matrix above: the
# province's are the superuser's, the city's the county supervisor's with "other" the other city's record.

PROVINCE_SUPERVISOR, CITY_SUPERVISOR, COUNTY_SUPERVISOR = "province supervisor", "city supervisor", "county supervisor"
LEVEL_ROLES = (PROVINCE_SUPERVISOR, CITY_SUPERVISOR, COUNTY_SUPERVISOR)


def level_expectation(page: Page, method: str, role: str, side: str | None):
    """The status a province/city/county supervisor gets, from the matrix's superuser and supervisor columns;
    side "same city" is county B's record (inside the city, outside county A), "other city" city C's."""
    column = page.expect[method][SUPERUSER if role == PROVINCE_SUPERVISOR else SUPERVISOR]
    if not isinstance(column, tuple):
        return column
    own, other = column
    if side is None or side == "own" or role == PROVINCE_SUPERVISOR:
        return own
    if side == "same city":
        return own if role == CITY_SUPERVISOR else other
    return other


def _level_cases():
    for name in sorted(MATRIX):
        page = MATRIX[name]
        for method in page.expect:
            for role in LEVEL_ROLES:
                for side in ("own", "same city", "other city") if page.record else (None,):
                    yield pytest.param(name, method, role, side, id="-".join(filter(None, (name, method, role, side))))


@pytest.fixture
def province_world(world, region_tree):
    from regions.models import Level, Region

    users, sides = world
    province = Region.objects.create(code="340000", name="测试省", level=Level.PROVINCE)
    region_tree.city.parent = province
    region_tree.city.save()
    city_c = Region.objects.create(code="349800", name="丙市", level=Level.CITY, parent=province)
    county_c = Region.objects.create(code="349801", name="丙区", level=Level.COUNTY, parent=city_c)
    town_c = Region.objects.create(code="349801001", name="丙一街道", level=Level.TOWN, parent=county_c)
    c_officers = [
        StaffProfileFactory(user=UserFactory(username=f"inspector_c{n}"), role=Role.INSPECTOR, jurisdiction=county_c).user for n in (1, 2)
    ]

    def supervisor_of(where, username):
        return StaffProfileFactory(user=UserFactory(username=username), role=Role.SUPERVISOR, jurisdiction=where).user

    level_users = {
        PROVINCE_SUPERVISOR: supervisor_of(province, "province_sup"),
        CITY_SUPERVISOR: supervisor_of(region_tree.city, "city_sup"),
        COUNTY_SUPERVISOR: users[SUPERVISOR],
    }
    level_sides = {"own": sides["a"], "same city": sides["b"], "other city": make_side(town_c, c_officers, "丙区")}
    return level_users, level_sides


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role", "side"), list(_level_cases()))
def test_access_by_level(client, province_world, name, method, role, side):
    page = MATRIX[name]
    users, sides = province_world
    record_side = sides[side or "own"]
    url = reverse(name, kwargs=record_side.kwargs(page.record) if page.record else None)
    client.force_login(users[role])
    response = client.post(url, page.data) if method == "POST" else client.get(url)
    check_status(response, level_expectation(page, method, role, side), url)
    if response.status_code in (200, 422) and response["Content-Type"].startswith("text/html") and not page.public:
        html = response.content.decode()
        outside = {PROVINCE_SUPERVISOR: (), CITY_SUPERVISOR: ("other city",), COUNTY_SUPERVISOR: ("same city", "other city")}[role]
        leaked = [marker for where in outside for marker in sides[where].markers if marker in html]
        assert not leaked, f"{url} shows records outside the {role}'s jurisdiction: {leaked}"


@pytest.mark.django_db
def test_the_list_pages_show_each_level_what_lies_inside_it(client, province_world):
    users, sides = province_world
    reach = {
        PROVINCE_SUPERVISOR: ("own", "same city", "other city"),
        CITY_SUPERVISOR: ("own", "same city"),
        COUNTY_SUPERVISOR: ("own",),
    }
    for role, inside in reach.items():
        client.force_login(users[role])
        html = client.get(reverse("inspections:plan-list")).content.decode()
        shown = {where for where, side in sides.items() if side.plan.name in html}
        assert shown == set(inside), role
