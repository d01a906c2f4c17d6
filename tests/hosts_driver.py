"""Commands the multi-host test (test_hosts.py) runs against its own PostgreSQL, in a process of its own:

python -m tests.hosts_driver seed N AS_OF    the demo's divisions, catalogue and N enterprises with their history,
                                             then every derived value cleared (the pipeline starts from nothing)
python -m tests.hosts_driver state           what the pipeline decided, as JSON (no times): enterprises' class,
                                             grade and category, reasons, history, region snapshots, scores
"""

import datetime as dt
import json
import os
import sys

import django


def seed(enterprises: int, as_of: dt.date) -> None:
    from jiaxing_qs.demo.seed import seed_demo

    seed_demo(enterprises=enterprises, as_of=as_of, derive=False)


def state() -> dict:
    from enterprises.models import Enterprise, RiskReason, StateChange
    from inspections.models import RiskScore
    from products.models import Product
    from regions.models import RegionSnapshot

    def rows(queryset, *fields):
        return sorted([[str(value) for value in row] for row in queryset.values_list(*fields)])

    return {
        "enterprises": rows(Enterprise.objects, "id", "risk_class", "max_grade", "category"),
        "reasons": rows(RiskReason.objects, "enterprise_id", "kind", "count", "last_on"),
        "changes": rows(StateChange.objects, "enterprise_id", "field", "old_value", "new_value", "as_of", "reason"),
        "snapshots": rows(RegionSnapshot.objects, "region_id", "period", "enterprise_count", "risk_count", "colour", "index"),
        "grades": rows(Product.objects, "id", "grade"),
        "scores": rows(RiskScore.objects, "enterprise_id", "probability"),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
    django.setup()
    command, *args = sys.argv[1:]
    if command == "seed":
        seed(int(args[0]), dt.date.fromisoformat(args[1]))
    elif command == "state":
        json.dump(state(), sys.stdout)
    else:
        raise SystemExit(f"unknown command {command}")
