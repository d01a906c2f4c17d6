"""The split stages: classing and categorising run as one task per county, on any worker, in any order, any
number of times, and leave what one run over every enterprise leaves; each part's progress is kept."""

import datetime as dt
from io import StringIO

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core.management import call_command

from enterprises.models import Enterprise, RiskClass, RiskEventKind, RiskReason, StateChange
from enterprises.services import enterprises_categorise, enterprises_classify
from jiaxing_qs.models import PipelineRun, PipelineStep, StepState, Trigger
from jiaxing_qs.pipeline import STAGES, STAGES_BY_NAME, pipeline_run_begin, run_progress, run_stage, run_stage_part, stage_parts
from jiaxing_qs.tasks import join_pipeline_stage, run_pipeline, run_pipeline_part
from regions.models import Level

from . import test_pipeline
from .factories import RiskEventFactory

AS_OF = test_pipeline.AS_OF
catalogue, rules, city = test_pipeline.catalogue, test_pipeline.rules, test_pipeline.city  # the hand-made city's fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def derived_state() -> dict:
    """What the split stages decide, enterprise by enterprise, and the history they record (without its time)."""
    return {
        "enterprises": sorted(Enterprise.objects.values_list("id", "risk_class", "max_grade", "category")),
        "reasons": sorted(RiskReason.objects.values_list("enterprise_id", "kind", "count", "last_on")),
        "changes": sorted(StateChange.objects.values_list("enterprise_id", "field", "old_value", "new_value", "as_of", "reason")),
    }


def test_the_split_stages_are_cut_by_county(city, region_tree):
    assert stage_parts() == [region_tree.county_a.pk, region_tree.county_b.pk]
    assert {name for name, stage in STAGES_BY_NAME.items() if stage.split} == {"classify_enterprises", "categorise_enterprises"}


def test_the_county_parts_leave_what_one_run_over_every_enterprise_leaves(city):
    whole = STAGES_BY_NAME["classify_enterprises"], STAGES_BY_NAME["categorise_enterprises"]
    for stage in whole:
        stage.run(AS_OF)
    in_one_run = derived_state()
    assert in_one_run["reasons"] and in_one_run["changes"]

    # From scratch again, county by county, the second county first.
    RiskReason.objects.all().delete()
    StateChange.objects.all().delete()
    Enterprise.objects.update(risk_class=RiskClass.NON_RISK, max_grade=None, category=None, classified_at=None)
    for stage in whole:
        for county in reversed(stage_parts()):
            run_stage_part(stage.name, AS_OF, county)
    assert derived_state() == in_one_run


def test_a_part_delivered_twice_changes_nothing_the_second_time(city, region_tree):
    run_stage("record_spot_check_events", AS_OF)
    run = pipeline_run_begin(AS_OF)
    first = run_pipeline_part.apply(([], "classify_enterprises", AS_OF.isoformat(), region_tree.county_a.pk, run.pk)).get()
    after_first = derived_state()
    again = run_pipeline_part.apply(([], "classify_enterprises", AS_OF.isoformat(), region_tree.county_a.pk, run.pk)).get()
    assert first["part"]["became_risk"] == 2  # A1's failed wire check, A2's heater without its CCC certificate
    assert again["part"] == {"county": region_tree.county_a.pk, "became_risk": 0, "became_non_risk": 0}
    assert derived_state() == after_first
    step = PipelineStep.objects.get(run=run, stage="classify_enterprises", county=region_tree.county_a)
    assert (step.state, step.attempts) == (StepState.DONE, 2)


def test_the_join_waits_for_every_county_part_whatever_the_chord_counted(city, region_tree):
    run_stage("record_spot_check_events", AS_OF)
    run = pipeline_run_begin(AS_OF)
    counties = [region_tree.county_a.pk, region_tree.county_b.pk]
    part_a = run_pipeline_part.apply(([], "classify_enterprises", AS_OF.isoformat(), counties[0], run.pk)).get()
    # County A's part reported twice (redelivered after its result was stored), county B's not yet run.
    with pytest.raises(Retry):
        join_pipeline_stage.apply(([part_a, part_a], "classify_enterprises", AS_OF.isoformat(), counties, run.pk), throw=True)
    part_b = run_pipeline_part.apply(([], "classify_enterprises", AS_OF.isoformat(), counties[1], run.pk)).get()
    report = join_pipeline_stage.apply(([part_a, part_b], "classify_enterprises", AS_OF.isoformat(), counties, run.pk)).get()
    joined = report[-1]
    # B's closed enterprise with a penalty is classed too, but only active ones count among the risk enterprises.
    assert (joined["became_risk"], joined["risk_enterprises"], joined["parts"]) == (4, 3, 2)


def test_a_recorded_run_shows_each_stage_and_county_part_done(city, region_tree):
    run_pipeline(AS_OF, trigger="test")
    run = PipelineRun.objects.get()
    assert run.finished_at is not None and run.trigger == "test"
    progress = {stage["stage"]: stage for stage in run_progress(run.pk)}
    assert progress["classify_enterprises"]["done"] == 2 and progress["classify_enterprises"]["split"]
    assert progress["grade_products"]["done"] == 1 and not progress["grade_products"]["split"]
    assert progress["classify_enterprises"]["hosts"] == ["in-process"]
    parts = PipelineStep.objects.filter(run=run, stage="categorise_enterprises", county__isnull=False)
    assert sorted(parts.values_list("county__level", flat=True)) == [Level.COUNTY, Level.COUNTY]
    assert all(step.state == StepState.DONE and step.attempts == 1 for step in PipelineStep.objects.filter(run=run))


def test_the_admin_lists_runs_with_their_progress_in_as_many_queries_however_many_runs(city, region_tree, admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def listed_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get("/admin/jiaxing_qs/pipelinerun/")
        assert page.status_code == 200 and f"{len(STAGES)}/{len(STAGES)}" in page.content.decode()  # every stage done
        return len(queries)

    run_pipeline(AS_OF, trigger="test")
    one_run = listed_queries()
    for _ in range(3):
        run_pipeline(AS_OF, trigger="test")
    assert PipelineRun.objects.count() == 4 and listed_queries() == one_run


def test_a_failing_part_is_recorded_as_failed(city, region_tree, monkeypatch):
    run = pipeline_run_begin(AS_OF)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("jiaxing_qs.tasks.run_stage_part", broken)
    with pytest.raises(RuntimeError):
        run_pipeline_part.apply(([], "classify_enterprises", AS_OF.isoformat(), region_tree.county_b.pk, run.pk), throw=True)
    step = PipelineStep.objects.get(run=run, county=region_tree.county_b)
    assert step.state == StepState.FAILED and "database went away" in step.error


def test_the_command_says_how_the_split_stages_were_shared_out(city):
    RiskEventFactory(enterprise=city["b1_0"], kind=RiskEventKind.PENALTY, occurred_on=dt.date(2026, 6, 1))
    out = StringIO()
    call_command("run_pipeline", "--as-of", AS_OF.isoformat(), stdout=out)
    assert "enterprise risk classes: 5 enterprises became risk" in out.getvalue()
    assert "(2 counties)  [in-process ×2]" in out.getvalue()


def test_the_unsplit_rules_still_serve_the_feedback_of_one_enterprise(city):
    report = enterprises_classify(as_of=AS_OF, enterprise_ids=[city["b2_risk"].pk])
    assert report["became_risk"] == 1 and "risk in all" in report["message"]
    assert "key-supervised" in enterprises_categorise(enterprise_ids=[city["b2_risk"].pk], as_of=AS_OF)["message"]


def test_the_admin_shows_each_run_with_its_stages_and_county_parts(city, admin_client):
    run_pipeline(AS_OF, trigger=Trigger.NIGHTLY)
    run = PipelineRun.objects.get()
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    listing = admin_client.get("/admin/jiaxing_qs/pipelinerun/").content.decode()
    assert "10/10 · enterprise risk classes 2/2 · supervision categories 2/2" in listing and "the nightly schedule" in listing
    page = admin_client.get(f"/admin/jiaxing_qs/pipelinerun/{run.pk}/change/").content.decode()
    assert "甲区" in page and "乙县" in page and "in-process" in page and "region colours" in page
    assert admin_client.post("/admin/jiaxing_qs/pipelinerun/add/").status_code == 403


def test_the_chinese_admin_names_stages_triggers_and_hosts_in_chinese(city, admin_client):
    """Stored as identifiers (task arguments, the benchmark's tables), shown in the reader's language."""
    run_pipeline(AS_OF, trigger=Trigger.COMMAND)
    run = PipelineRun.objects.get()
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    listing = admin_client.get("/admin/jiaxing_qs/pipelinerun/").content.decode()
    assert "企业风险分类 2/2 · 监管类别 2/2" in listing and "run_pipeline 命令" in listing
    page = admin_client.get(f"/admin/jiaxing_qs/pipelinerun/{run.pk}/change/").content.decode()
    assert "区域着色" in page and "本进程内" in page
    assert not any(stage.name in page for stage in STAGES) and "in-process" not in page
