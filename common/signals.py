"""The domain signals the apps send and the top floor (jiaxing_qs.apps) connects to the pipeline's tasks, so that
no app imports the pipeline that imports every app.

Both are sent when the data is written; the receivers queue their work once the transaction commits.
"""

from django.dispatch import Signal

# The rules, the catalogue or imported data changed: classes, categories and colours are derived again.
# Optional argument: as_of (a date; default today).
pipeline_inputs_changed = Signal()

# An enterprise's record gained an outcome (a check result, a rectification order's close or an overdue flag):
# its class is re-derived and its regions re-coloured. Argument: enterprise_id.
enterprise_outcome_recorded = Signal()

# The enterprise page (enterprises.views) asks the floors above it for the sections they add, so that it shows what
# they know (rectification orders) without importing them. Arguments: request, enterprise. A receiver returns a
# rendered HTML section, or "" to add nothing; the sections show in the order their receivers were connected.
enterprise_page_sections = Signal()
