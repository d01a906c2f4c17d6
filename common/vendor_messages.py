"""Messages of the libraries our admin shows that their own Chinese catalogues leave in English.

Django 5.2's admin, simple-history and django-celery-beat mark these for translation, but their zh_Hans
catalogues have no Chinese for them. Listing the exact msgids here puts them in our catalogue (makemessages finds
them), and our translations come first (LOCALE_PATHS). Nothing calls this module; the strings are only marked.
"""

from django.utils.translation import gettext_noop

VENDOR_MESSAGES = (
    # django.contrib.admin (app_list.html, the page titles of forms with errors, auth's add-user form)
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Error:"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # simple-history (the History view's table)
    gettext_noop("Changes"),
    # django-celery-beat (its admin's fieldsets, inline and help texts)
    gettext_noop("Schedule"),
    gettext_noop("Arguments"),
    gettext_noop("Execution Options"),
    gettext_noop("Periodic Tasks Using This Schedule"),
    gettext_noop('task "{not_found_task_name}" not found'),
    gettext_noop('Cron Months (1-12) Of The Year to Run. Use "*" for "all". (Example: "1,12")'),
    gettext_noop('Cron Days Of The Week to Run. Use "*" for "all", Sunday is 0 or 7, Monday is 1. (Example: "0,5")'),
)
