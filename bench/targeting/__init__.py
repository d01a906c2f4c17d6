"""Benchmark: does the risk-stratified draw find more non-conforming enterprises than a uniform one?

See bench/targeting/README.md. The simulation calls the project's own rules on unsaved model instances, so
Django must be set up (no database is read or written).
"""

import os

import django
from django.apps import apps

if not apps.ready:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
    django.setup()
