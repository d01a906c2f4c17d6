"""Publication (一公开): an approved plan's seed, method, drawn enterprises and outcomes — public, nothing confidential."""

import datetime as dt
import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from enterprises.models import Category, Enterprise
from inspections.models import CheckItemResult, Conclusion, InspectionPlan, ItemOutcome, OrderStatus, PlanStatus
from inspections.planning.selectors import plan_verify
from inspections.planning.services import plan_approve, plan_create
from inspections.rectification.services import order_open
from jiaxing_qs.tasks import run_pipeline
from products.models import ChecklistItem
from regions.models import Role

from .factories import EnterpriseFactory, EnterpriseProductFactory, ProductFactory, StaffProfileFactory, UserFactory
from .test_rectification import result_of

pytestmark = pytest.mark.django_db

OFFICER_NAMES = ["王执法", "李执法", "赵执法"]
SECRET_ADDRESS = "嘉兴市机密路88号"
SECRET_NOTE = "现场发现标签与备案不符（内部）"


@pytest.fixture
def city_with_enterprises(region_tree):
    for n, name in enumerate(OFFICER_NAMES, start=1):
        user = UserFactory(username=f"officer{n}", first_name=name)
        StaffProfileFactory(user=user, role=Role.INSPECTOR, jurisdiction=region_tree.county_a)
    heater = ProductFactory(name="电暖器")
    ChecklistItem.objects.create(product=heater, order=1, text="标志和说明")
    for _ in range(10):
        EnterpriseProductFactory(enterprise=EnterpriseFactory(town=region_tree.town_a1, address=SECRET_ADDRESS), product=heater)
    run_pipeline(dt.date(2026, 11, 26))
    return region_tree


def make_plan(county, supervisor, **fields) -> InspectionPlan:
    return plan_create(
        name="2027年度产品质量监督抽查计划",
        scope=county,
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 12, 31),
        batch_budget=5,
        created_by=supervisor,
        control_share=Decimal("20"),
        ratio_credit=Decimal("50"),
        **fields,
    )


@pytest.fixture
def dispatched(city_with_enterprises, supervisor, django_capture_on_commit_callbacks) -> InspectionPlan:
    plan = make_plan(city_with_enterprises.county_a, supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, approved_by=supervisor)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISPATCHED
    return plan


def page(client, plan) -> str:
    response = client.get(f"/public/plans/{plan.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_anyone_sees_the_seed_the_method_and_every_drawn_enterprise(client, dispatched):
    html = page(client, dispatched)  # no login
    assert dispatched.seed in html and dispatched.draw_method in html
    assert "HMAC-SHA256(种子, &quot;control:&quot; + 统一社会信用代码)" in html  # the published method, in the page's language
    assert "<p>公开方法 JQS-DRAW-1，任何人都可以根据计划的种子和企业名单重新运行：" in html
    assert "<ol><li>总体：计划范围内在营且已分类的企业" in html and "``" not in html
    tasks = list(dispatched.tasks.select_related("enterprise__town"))
    assert len(tasks) == 5
    for task in tasks:
        assert task.enterprise.name in html and task.enterprise.credit_code in html
    assert "甲一街道" in html and "电暖器" in html


def test_the_page_names_no_officer_and_shows_no_note_address_or_position(client, dispatched):
    task = dispatched.tasks.order_by("id").first()
    result = result_of(task, Conclusion.NONCONFORMING, dt.date(2027, 3, 1))
    result.lat, result.lon, result.note = 30.751234, 120.758765, SECRET_NOTE
    result.save()
    CheckItemResult.objects.create(
        result=result, checklist_item=task.product.checklist_items.get(), outcome=ItemOutcome.NONCONFORMING, note=SECRET_NOTE
    )
    html = page(client, dispatched)
    for secret in [
        *OFFICER_NAMES,
        "officer1",
        "officer2",
        "officer3",
        "supervisor",
        SECRET_NOTE,
        "内部备注",
        SECRET_ADDRESS,
        "30.75",
        "120.75",
    ]:
        assert secret not in html, secret


def test_outcomes_and_rectification_appear_as_results_come_in(client, dispatched, django_capture_on_commit_callbacks):
    first, second = dispatched.tasks.order_by("id")[:2]
    html = page(client, dispatched)
    assert "2027-03-01" not in html

    failed = result_of(first, Conclusion.NONCONFORMING, dt.date(2027, 3, 1))
    result_of(second, Conclusion.CONFORMING, dt.date(2027, 3, 2))
    with django_capture_on_commit_callbacks(execute=True):
        order_open(result=failed, on=dt.date(2027, 3, 1))
    html = page(client, dispatched)
    with translation.override("zh-hans"):
        assert "不合格</strong> · 2027-03-01" in html
        assert "合格 · 2027-03-02" in html
        assert str(OrderStatus.RECTIFYING.label) in html


def test_a_draft_plan_is_not_published(client, city_with_enterprises, supervisor):
    draft = make_plan(city_with_enterprises.county_a, supervisor)
    response = client.get(f"/public/plans/{draft.pk}/")
    assert response.status_code == 404
    assert draft.seed not in response.content.decode()


def test_the_page_takes_a_handful_of_queries(client, dispatched, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        page(client, dispatched)


# --- The recorded population: with it, the seed and the method, anyone re-runs the draw ----------------------


def test_the_population_the_draw_ran_on_is_published_with_its_digest(client, dispatched):
    html = page(client, dispatched)
    response = client.get(f"/public/plans/{dispatched.pk}/population.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    data = response.content
    assert hashlib.sha256(data).hexdigest() in html
    header, *rows = data.decode().splitlines()
    assert header == "credit_code,category,colour"
    codes = [row.split(",")[0] for row in rows]
    assert codes == sorted(Enterprise.objects.values_list("credit_code", flat=True)), "every active enterprise of the scope"


def test_the_recorded_draw_still_checks_out_after_the_categories_change(dispatched):
    assert plan_verify(dispatched) == []
    Enterprise.objects.update(category=Category.TIGHTENED)  # the nightly pipeline moves enterprises
    assert plan_verify(dispatched) == [], "the draw is re-run on the population recorded at dispatch"


def test_a_task_removed_or_added_after_the_draw_is_reported(dispatched):
    task = dispatched.tasks.order_by("pk").first()
    code = task.enterprise.credit_code
    task.delete()
    (difference,) = plan_verify(dispatched)
    assert code in difference


def test_verify_plan_command_checks_a_downloaded_population(client, dispatched, tmp_path, english):
    out = StringIO()
    call_command("verify_plan", dispatched.pk, stdout=out)
    assert f"re-runs to the plan's {dispatched.tasks.count()} tasks" in out.getvalue()

    published = client.get(f"/public/plans/{dispatched.pk}/population.csv").content.decode().splitlines()
    drawn_code = dispatched.tasks.order_by("pk").first().enterprise.credit_code
    without_a_drawn_enterprise = tmp_path / "population.csv"
    without_a_drawn_enterprise.write_text("\n".join(line for line in published if not line.startswith(drawn_code)) + "\n")
    with pytest.raises(CommandError, match="does not give the plan's tasks"):
        call_command("verify_plan", dispatched.pk, population=without_a_drawn_enterprise, stdout=StringIO(), stderr=StringIO())
    bad = tmp_path / "bad.csv"
    bad.write_text("credit_code,category,colour\n91330400X,unknown,red\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("verify_plan", dispatched.pk, population=bad)


def test_a_credit_code_that_would_start_a_formula_is_published_as_text_and_still_verifies(
    client, city_with_enterprises, supervisor, django_capture_on_commit_callbacks, tmp_path
):
    """No valid credit code starts with = + - @, but the database does not forbid one (an old row, a direct SQL
    fix): the published file marks such a cell as text, and the marked file still re-runs to the plan's tasks."""
    dangerous = ["=HYPERLINK(1)", "+1+1", "-2+3", "@SUM(A1)", "'quoted"]
    for index, code in enumerate(dangerous):
        Enterprise.objects.filter(pk=Enterprise.objects.order_by("pk")[index].pk).update(credit_code=code)
    plan = make_plan(city_with_enterprises.county_a, supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, approved_by=supervisor)
    response = client.get(f"/public/plans/{plan.pk}/population.csv")
    data = response.content
    cells = [line.split(",")[0] for line in data.decode().splitlines()[1:]]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))], "no cell an office program evaluates"
    assert {f"'{code}" for code in dangerous} <= set(cells)
    assert hashlib.sha256(data).hexdigest() == plan.population.sha256 and hashlib.sha256(data).hexdigest() in page(client, plan)
    downloaded = tmp_path / "population.csv"
    downloaded.write_bytes(data)
    out = StringIO()
    with translation.override("en"):  # the pages asked for above left the thread in the site language
        call_command("verify_plan", plan.pk, population=downloaded, stdout=out)
    assert "re-runs to the plan's" in out.getvalue()
    assert plan_verify(plan) == []


def test_a_plan_without_a_recorded_population_says_so(client, dispatched):
    dispatched.population.delete()
    assert client.get(f"/public/plans/{dispatched.pk}/population.csv").status_code == 404
    with translation.override("en"):
        assert plan_verify(InspectionPlan.objects.get(pk=dispatched.pk)) == [
            "No population was recorded for this plan (dispatched before populations were kept)."
        ]
