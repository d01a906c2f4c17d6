from django.core.management.base import BaseCommand

from enterprises.codes import codes_issue_missing
from enterprises.models import Enterprise, QualityCode


class Command(BaseCommand):
    help = "Issue a quality code (一码) to every enterprise that has no active one. Safe to run again: it then issues nothing."

    def handle(self, *args, **options):
        issued = codes_issue_missing()
        active = QualityCode.objects.filter(revoked_at__isnull=True).count()
        self.stdout.write(f"Issued {issued} quality codes; {active} of {Enterprise.objects.count()} enterprises now have an active code.")
