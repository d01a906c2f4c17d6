from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from products.imports import CATALOGUE_CSV, CHECKLISTS_CSV, load_catalogue


class Command(BaseCommand):
    help = (
        "Load the product catalogue (classes, products with their grade factors) and the products' checklists, "
        "then grade the products. Default: the 2021 national key industrial products catalogue shipped with the app."
    )

    def add_arguments(self, parser):
        parser.add_argument("--catalogue", type=Path, default=CATALOGUE_CSV, help="CSV with class_code,class_name,…,industry_tags (UTF-8).")
        parser.add_argument("--checklists", type=Path, default=CHECKLISTS_CSV, help="CSV with product_code,order,text,legal_basis (UTF-8).")

    def handle(self, *args, catalogue=CATALOGUE_CSV, checklists=CHECKLISTS_CSV, **options):
        try:
            report = load_catalogue(catalogue, checklists)
        except ValidationError as error:
            raise CommandError("nothing was loaded:\n  " + "\n  ".join(error.messages)) from None
        except OSError as error:
            raise CommandError(f"nothing was loaded: {error}") from None
        self.stdout.write(report["message"])
