import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.imports import (
    BOUNDARIES_SOURCE,
    DIVISIONS_SOURCE,
    PROVINCES,
    boundaries_import,
    divisions_import,
    load_jiaxing,
    load_province,
    read_divisions_csv,
)


class Command(BaseCommand):
    help = (
        "Load administrative divisions (default: Jiaxing, shipped with the app; --province: a whole province, also shipped) "
        "and optional GeoJSON boundaries."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--province", choices=sorted(PROVINCES), help="Load a whole province shipped with the app (its cities, counties, towns)."
        )
        parser.add_argument("--divisions", type=Path, help="CSV with code,name,level,parent_code (UTF-8).")
        parser.add_argument("--boundaries", type=Path, help="GeoJSON FeatureCollection whose features carry a 'code' property.")
        parser.add_argument("--source", default="", help="Source and licence note kept with the records.")

    def handle(self, *args, province=None, divisions=None, boundaries=None, source="", **options):
        if province and (divisions or boundaries):
            raise CommandError("--province loads the shipped files: give it alone, or --divisions/--boundaries without it")
        try:
            if province:
                reports = load_province(province)
            elif divisions is None and boundaries is None:
                reports = load_jiaxing()
            else:
                reports = []
                if divisions:
                    reports.append(divisions_import(read_divisions_csv(divisions), source=source or DIVISIONS_SOURCE))
                if boundaries:
                    with open(boundaries, encoding="utf-8") as handle:
                        reports.append(boundaries_import(json.load(handle), source=source or BOUNDARIES_SOURCE))
        except ValidationError as error:
            raise CommandError("nothing was loaded:\n  " + "\n  ".join(error.messages)) from None
        except (OSError, json.JSONDecodeError) as error:
            raise CommandError(f"nothing was loaded: {error}") from None
        for report in reports:
            self.stdout.write(report["message"])
