"""Admin mixins: Excel export of any changelist (filters applied) and import with upload → preview → confirm.

Import: the uploaded file is kept under ``MEDIA_ROOT/imports/<random token>.<ext>`` between the preview and
the confirmation, and the token is remembered in the uploader's session, so nobody else can confirm it. The
upload checks every row (a dry run) once and keeps the result beside the file (``<token>.preview-<language>.json``),
so opening or refreshing the preview reads it instead of checking the file again; the confirm button is
disabled while there is a problem. Confirming checks again and writes in one transaction, synchronously: a
50,000-row file takes well under a minute (bench/imports.py), and the page says so. Files left unconfirmed are
removed after a day, their kept results with them.

Bounds (issue #14: a 0.8 MB .xlsx unpacking to 1.35 million rows held a worker for minutes): a file of more than
``IMPORT_MAX_ROWS`` rows is refused as soon as the reading passes that many (common.tabular.read_table), and the
preview lists the first ``IMPORT_MAX_LISTED_PROBLEMS`` problems with the total.

The admin class provides ``admin_scope(request)`` (the user's reach: ``everywhere`` or a ``region``), as the
jurisdiction mixins of regions/admin_scoping.py do; this module imports no app.

Export: a changelist button exports the rows the changelist shows (its filters, search and date drill-down:
the changelist's own queryset), and an admin action exports the selected rows; both as .xlsx with Chinese
headers, numbers as numbers and dates as dates (``common.tabular.export_xlsx``). Both follow the admin's
jurisdiction scoping (regions/admin_scoping.py): they export the changelist's queryset, which is scoped.

Jurisdiction: a county administrator's import may only touch their county, so every row naming a town or an
enterprise elsewhere is a bad row (the importers take a ``jurisdiction``); a user without one cannot import.
"""

import dataclasses
import functools
import io
import json
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from .signals import pipeline_inputs_changed
from .tabular import CSV_SUFFIXES, XLSX_SUFFIXES, ExportField, Importer, ImportReport, export_xlsx, write_xlsx

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_SUFFIXES = (*XLSX_SUFFIXES, *CSV_SUFFIXES)
UPLOAD_MAX_MB = getattr(settings, "IMPORT_MAX_UPLOAD_MB", 30)
UPLOAD_KEEP_SECONDS = 24 * 3600
SESSION_KEY = "jqs_imports"


def xlsx_response(queryset, fields: Sequence[ExportField], *, name: str) -> HttpResponse:
    buffer = io.BytesIO()
    export_xlsx(buffer, queryset, fields, title=name)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, f"{name}-{timezone.localdate():%Y%m%d}.xlsx")
    return response


class ExportMixin:
    """An "Export to Excel" changelist button (the filtered list) and admin action (the selected rows)."""

    export_fields: Sequence[ExportField] = ()
    change_list_template = "admin/import_export/change_list.html"

    def _url_name(self, action: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

    def _url(self, action: str, *args) -> str:
        return reverse(f"admin:{self._url_name(action)}", args=args)

    def get_urls(self):
        urls = [path("export/", self.admin_site.admin_view(self.export_view), name=self._url_name("export"))]
        return urls + super().get_urls()

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.export_fields and self.has_view_or_change_permission(request):
            actions["export_xlsx"] = (type(self).export_selected, "export_xlsx", gettext_lazy("Export the selected rows to Excel"))
        return actions

    def export_selected(self, request, queryset):
        return xlsx_response(queryset, self.export_fields, name=self.opts.model_name)

    def export_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(self._url("changelist") + "?e=1")
        return xlsx_response(changelist.queryset, self.export_fields, name=self.opts.model_name)

    def changelist_view(self, request, extra_context=None):
        query = request.GET.copy()
        query.pop("p", None)  # the whole filtered list, not the page on screen
        context = {"export_url": f"{self._url('export')}?{query.urlencode()}"} if self.export_fields else {}
        return super().changelist_view(request, {**context, **(extra_context or {})})


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    file = forms.FileField(
        label=gettext_lazy("File (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(UPLOAD_SUFFIXES)}),
    )

    def __init__(self, *args, importers: Sequence[Importer], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(importer.kind, importer.label) for importer in importers]
        if len(importers) == 1:
            self.fields["kind"].initial = importers[0].kind
            self.fields["kind"].widget = forms.HiddenInput()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in UPLOAD_SUFFIXES:
            raise forms.ValidationError(_("Upload an .xlsx or a .csv file (an old .xls file must be saved as .xlsx first)."))
        if upload.size > UPLOAD_MAX_MB * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB: split it into smaller files.") % {"mb": UPLOAD_MAX_MB})
        return upload


def upload_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def _sweep_old_uploads(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_KEEP_SECONDS
    for leftover in folder.glob("*"):
        if leftover.is_file() and leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)


class ImportExportMixin(ExportMixin):
    """Adds "Import from Excel or CSV" to a changelist: upload → preview (every bad row) → confirm."""

    importers: Sequence[Importer] = ()

    def get_urls(self):
        view = self.admin_site.admin_view
        urls = [
            path("import/", view(self.import_view), name=self._url_name("import")),
            path("import/template/<str:kind>/", view(self.import_template_view), name=self._url_name("import_template")),
            path("import/<str:token>/", view(self.import_preview_view), name=self._url_name("import_preview")),
            path("import/<str:token>/confirm/", view(self.import_confirm_view), name=self._url_name("import_confirm")),
        ]
        return urls + super().get_urls()

    def has_import_permission(self, request) -> bool:
        return bool(self.importers) and self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        context = {"import_url": self._url("import")} if self.has_import_permission(request) else {}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def _importer(self, kind: str) -> Importer:
        for importer in self.importers:
            if importer.kind == kind:
                return importer
        raise Http404

    def _importer_within(self, request, kind: str) -> Importer:
        """The importer limited to the user's jurisdiction: rows of a town or enterprise elsewhere are refused."""
        importer = self._importer(kind)
        scope = self.admin_scope(request)  # from the admin's jurisdiction mixin (regions.admin_scoping)
        if scope.everywhere:
            return importer
        if scope.region is None:
            raise PermissionDenied
        return dataclasses.replace(importer, run=functools.partial(importer.run, jurisdiction=scope.region))

    def _context(self, request, **values) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import %(name)s") % {"name": self.opts.verbose_name_plural},
            "importers": self.importers,
            "changelist_url": self._url("changelist"),
            "max_mb": UPLOAD_MAX_MB,
            "max_rows": f"{settings.IMPORT_MAX_ROWS:,}",
            **values,
        }

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None, importers=self.importers)
        if request.method == "POST" and form.is_valid():
            token = self._keep_upload(request, form.cleaned_data["kind"], form.cleaned_data["file"])
            upload, file = self._upload(request, token)
            self._check(request, token, upload, file)  # once, here: the preview page reads the kept result
            return redirect("admin:" + self._url_name("import_preview"), token=token)
        templates = [(importer, self._url("import_template", importer.kind)) for importer in self.importers]
        return TemplateResponse(request, "admin/import_export/import_form.html", self._context(request, form=form, templates=templates))

    def import_template_view(self, request, kind: str):
        """An empty .xlsx with the import's Chinese headers, to fill in."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        importer = self._importer(kind)
        buffer = io.BytesIO()
        write_xlsx(buffer, [column.zh for column in importer.columns], [], title=kind)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(True, f"{kind}-template.xlsx")
        return response

    def _keep_upload(self, request, kind: str, upload) -> str:
        folder = upload_folder()
        folder.mkdir(parents=True, exist_ok=True)
        _sweep_old_uploads(folder)
        token = secrets.token_urlsafe(18)
        suffix = Path(upload.name).suffix.lower()
        with open(folder / f"{token}{suffix}", "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        kept = request.session.get(SESSION_KEY, {})
        kept[token] = {"kind": kind, "name": Path(upload.name).name, "suffix": suffix, "model": self.opts.label_lower}
        request.session[SESSION_KEY] = kept
        return token

    def _upload(self, request, token: str) -> tuple[dict, Path]:
        """The upload behind ``token``, if this user's session uploaded it here and it is still kept."""
        upload = request.session.get(SESSION_KEY, {}).get(token)
        if not upload or upload["model"] != self.opts.label_lower:
            raise Http404
        file = upload_folder() / f"{token}{upload['suffix']}"
        if not file.is_file():
            raise Http404
        return upload, file

    def _forget_upload(self, request, token: str, file: Path) -> None:
        file.unlink(missing_ok=True)
        for kept_result in upload_folder().glob(f"{token}.preview-*.json"):
            kept_result.unlink(missing_ok=True)
        kept = request.session.get(SESSION_KEY, {})
        kept.pop(token, None)
        request.session[SESSION_KEY] = kept

    def _preview(self, request, token: str, upload: dict, report, importer: Importer):
        context = self._context(
            request,
            report=report,
            importer=importer,
            filename=upload["name"],
            confirm_url=self._url("import_confirm", token),
            upload_url=self._url("import"),
        )
        return TemplateResponse(request, "admin/import_export/import_preview.html", context)

    @staticmethod
    def _kept_result_path(token: str) -> Path:
        """Where the dry run of the upload ``token`` is kept, one per language (its messages are in it)."""
        return upload_folder() / f"{token}.preview-{get_language()}.json"

    def _keep_result(self, token: str, report: ImportReport) -> ImportReport:
        """The report as the page shows it (its first problems and their totals), kept for the next view of it."""
        listed = report.listing(settings.IMPORT_MAX_LISTED_PROBLEMS)
        self._kept_result_path(token).write_text(json.dumps(listed.as_json(), ensure_ascii=False), encoding="utf-8")
        return listed

    def _check(self, request, token: str, upload: dict, file: Path) -> ImportReport:
        """The dry run of the kept file within the user's jurisdiction, at most IMPORT_MAX_ROWS rows; kept for the preview."""
        importer = self._importer_within(request, upload["kind"])
        return self._keep_result(token, importer(file, filename=upload["name"], dry_run=True, max_rows=settings.IMPORT_MAX_ROWS))

    def import_preview_view(self, request, token: str):
        if not self.has_import_permission(request):
            raise PermissionDenied
        upload, file = self._upload(request, token)
        importer = self._importer_within(request, upload["kind"])
        try:
            report = ImportReport.from_json(json.loads(self._kept_result_path(token).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):  # not kept in this language yet, or unreadable: check again
            report = self._check(request, token, upload, file)
        return self._preview(request, token, upload, report, importer)

    def import_confirm_view(self, request, token: str):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:" + self._url_name("import_preview"), token=token)
        upload, file = self._upload(request, token)
        importer = self._importer_within(request, upload["kind"])
        report = importer(file, filename=upload["name"], max_rows=settings.IMPORT_MAX_ROWS)
        if not report.ok:  # the data changed since the preview (e.g. a town removed): show why, change nothing
            return self._preview(request, token, upload, self._keep_result(token, report), importer)
        self._forget_upload(request, token, file)
        self.message_user(
            request, _("%(file)s imported: %(summary)s.") % {"file": upload["name"], "summary": report.summary}, messages.SUCCESS
        )
        if report.created or report.updated:
            pipeline_inputs_changed.send(sender=self.model)  # classes, categories and colours follow the new data at once
            self.message_user(request, _("The pipeline has been queued to re-class enterprises and re-colour regions."))
        return HttpResponseRedirect(self._url("changelist"))
