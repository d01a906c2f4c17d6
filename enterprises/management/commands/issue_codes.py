from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from enterprises.codes import codes_issue_missing
from enterprises.models import Enterprise, QualityCode


class Command(BaseCommand):
    help = "Issue a quality code (一码) to every enterprise that has no active one. Safe to run again: it then issues nothing."

    def handle(self, *args, **options):
        issued = codes_issue_missing()
        active = QualityCode.objects.filter(revoked_at__isnull=True).count()
        self.stdout.write(
            _("Issued %(issued)d quality codes; %(active)d of %(total)d enterprises now have an active code.")
            % {"issued": issued, "active": active, "total": Enterprise.objects.count()}
        )
