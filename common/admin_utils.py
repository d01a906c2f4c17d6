"""Admin building blocks shared by the apps: coloured badges, the versioned-rule admin, and a paginator for big
tables."""

from functools import cached_property
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .palette import PALETTE
from .signals import pipeline_inputs_changed

BADGE_COLOURS = {name: (swatch.fill, swatch.text) for name, swatch in PALETTE.items()}


ESTIMATE_FROM = 100_000  # below this many rows an exact count is a few milliseconds: count them


def estimated_rows(queryset: QuerySet) -> int | None:
    """The planner's row estimate of the whole table behind ``queryset`` (PostgreSQL's ``pg_class.reltuples``,
    kept by ANALYZE and autovacuum), when the queryset counts exactly that table: no condition, no DISTINCT, no
    slice. None otherwise, on other databases, and for a table never analysed."""
    query = queryset.query
    if query.where or query.distinct or query.is_sliced or query.combinator:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """An admin changelist's paginator that does not count a big table row by row: the unfiltered list of a table
    of at least ``ESTIMATE_FROM`` rows is counted from the planner's estimate (``estimated`` then says so, and the
    pagination shows "about"); a filtered or searched list, and any list on SQLite, is counted exactly. An
    estimate a little above the truth leaves the last page short or empty; a little below, the last rows are
    reached by filtering or by ordering the other way round."""

    estimated = False

    @cached_property
    def count(self) -> int:
        estimate = estimated_rows(self.object_list) if isinstance(self.object_list, QuerySet) else None
        if estimate is not None and estimate >= ESTIMATE_FROM:
            self.estimated = True
            return estimate
        return super().count


def badge(label, colour: str | None):
    if not colour:
        return "—"
    background, foreground = BADGE_COLOURS.get(colour, ("#e0e0e0", "#222"))
    return format_html(
        '<span style="background:{};color:{};padding:1px 8px;border-radius:8px;white-space:nowrap">{}</span>',
        background,
        foreground,
        label,
    )


class RuleVersionAdmin(admin.ModelAdmin):
    """Rules are never edited in place: 'add' creates a new version, pre-filled from the one in force,
    with who and why recorded; old versions are read-only history."""

    date_hierarchy = "valid_from"
    rule_fields: tuple[str, ...] = ()

    def get_list_display(self, request):
        return ("valid_from", *self.rule_fields, "created_by", "reason", "in_force")

    @admin.display(description=_("in force"), boolean=True)
    def in_force(self, obj):
        return obj.pk == type(obj).in_force().pk

    def get_fields(self, request, obj=None):
        return ("valid_from", *self.rule_fields, "reason") + (("created_by", "created_at", "changed_from") if obj else ())

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    @admin.display(description=_("changed from"))
    def changed_from(self, obj):
        previous = obj.previous()
        if previous is None:
            return "—"
        changes = [
            f"{obj._meta.get_field(name).verbose_name}: {getattr(previous, name)} → {getattr(obj, name)}"
            for name in self.rule_fields
            if getattr(previous, name) != getattr(obj, name)
        ]
        return "; ".join(changes) or _("no value changed")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            return form

        class NewVersionForm(form):
            def _post_clean(self):
                super()._post_clean()  # builds the unsaved version and runs the model's own checks
                problem = self.instance.unchanged_problem()
                if problem is not None:
                    self.add_error(None, problem)

        return NewVersionForm

    def get_changeform_initial_data(self, request):
        current = self.model.in_force()
        return {**model_to_dict(current, fields=self.rule_fields), **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        # Colours, classes and categories must reflect the rule now in force, not at the next nightly run.
        pipeline_inputs_changed.send(sender=self.model)
        self.message_user(request, _("The pipeline has been queued to apply this version."))


def changelist_link(request, model_label: str, wanted: dict) -> dict | None:
    """A link to a model's admin changelist with the ``wanted`` filters the admin allows this user; ``complete``
    says whether every one made it into the link (None when the model has no changelist)."""
    model = apps.get_model(model_label)
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return None
    params = {lookup: value for lookup, value in wanted.items() if model_admin.lookup_allowed(lookup, value, request)}
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return None
    return {"url": f"{url}?{urlencode(params)}", "complete": len(params) == len(wanted)}


# Django names the default permissions in English when it creates them ("Can add enterprise", from the model's
# untranslated verbose name) and the admin lists that stored name: these say it in the reader's language.
PERMISSION_ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission) -> str:
    """``app | model | action`` as Django lists a permission, in the active language (custom ones as stored)."""
    action = permission.codename.partition("_")[0]
    model = permission.content_type.model_class()
    if action not in PERMISSION_ACTIONS or model is None or permission.codename != f"{action}_{model._meta.model_name}":
        return str(permission)
    return f"{permission.content_type} | {PERMISSION_ACTIONS[action] % {'model': model._meta.verbose_name}}"


class TranslatedPermissionsMixin:
    """For the user and group admins: their permission pickers list ``permission_label``."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.related_model._meta.label == "auth.Permission":
            field.label_from_instance = permission_label
        return field
