"""The ground floor: what every app shares and no app owns. It imports no app of ours (tests/test_layers.py).

Rule versioning (rules), the history switch (history), settings from the environment (env), tabular import and
export (tabular) with the admin's upload → preview → confirm (import_admin), the API's error shape
(api_errors), the admin building blocks (admin_utils), the colours (palette) and the domain signals (signals)
that the apps send and jiaxing_qs connects to the pipeline.
"""
