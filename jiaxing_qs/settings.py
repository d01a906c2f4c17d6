"""Settings for Jiaxing QS, read from the environment (see .env.example).

With nothing configured the app runs on an SQLite file with Celery tasks executed eagerly in-process;
DATABASE_URL and CELERY_BROKER_URL switch it to PostgreSQL and Redis-backed workers.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from common.env import envbool, envint, envlist, envstr
from common.history import HistorySwitch

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("JQS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "jiaxing_qs.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "django_celery_beat",
    "simple_history",
    "regions",
    "products",
    "enterprises",
    "inspections",
    "jiaxing_qs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "regions.map_cache.MapFastPathMiddleware",  # map data for a valid map ticket, before sessions (see module)
    "common.csp.ContentSecurityPolicyMiddleware",  # a strict CSP on every page (the map's JSON above needs none)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "jiaxing_qs.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # history rows record the user making the change
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jiaxing_qs.urls"
WSGI_APPLICATION = "jiaxing_qs.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "regions.context_processors.staff",
                "jiaxing_qs.context_processors.palette",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    # Persistent connections are checked before a request reuses them: after PostgreSQL restarts, every worker
    # thread's old connection is dead, and without the check each thread's next request would fail once.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
_ENGINE = DATABASES["default"]["ENGINE"]
if _ENGINE not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
    raise ImproperlyConfigured(f"DATABASE_URL must point at SQLite or PostgreSQL, got engine {_ENGINE}")
if _ENGINE == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Writers queue instead of failing: every transaction takes the write lock as it begins (BEGIN IMMEDIATE), so
    # none reads first and then has to upgrade its lock, which SQLite refuses at once whatever the timeout
    # ("database is locked" when two inspectors submit together). The timeout (seconds) bounds the wait.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (sessions, encoded map responses) ------------------------------------------------
CACHE_URL = envstr("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    _REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    CACHES = {"default": _REDIS, "shared": _REDIS | {"KEY_PREFIX": "shared"}}
elif CACHE_URL:
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL or empty (per-process memory), got {CACHE_URL!r}")
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "jiaxing-qs"},
        # The few values every worker process of this machine must see (each user's map-ticket stamp,
        # regions/map_cache.py): one small file each. Room for every user, so none is culled (a culled stamp
        # only sends that user's next map request the full way).
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "shared-cache"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
# No broker configured: run tasks in-process so a newcomer needs nothing but Python.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Never connected to (eager tasks skip the broker), but a URL with no host makes kombu warn when it is parsed.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 900)
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 840)
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
# A check result re-classes its enterprise at once; the regions are re-coloured once per this many seconds at
# most, however many results arrive (jiaxing_qs.tasks.enqueue_recolour). Workers share the gate through
# CACHE_URL.
FEEDBACK_RECOLOUR_DELAY = envint("FEEDBACK_RECOLOUR_DELAY", 30)
# Work whose message never reached the broker (Redis down when it was queued) is queued again by the beat's sweep
# (inspections.tasks.requeue_unqueued) once it has waited this many seconds.
REQUEUE_AFTER_SECONDS = envint("REQUEUE_AFTER_SECONDS", 300)
# A notification claimed for sending this long ago and not marked sent belongs to a worker that died mid-send:
# another may send it (once more, if the dead one's message had reached DingTalk: at least once, never lost).
NOTIFICATION_SEND_LEASE_SECONDS = envint("NOTIFICATION_SEND_LEASE_SECONDS", 300)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
# One beat sends, however many run (jiaxing_qs/beat.py): the lock in the broker's Redis, or BEAT_LOCK_URL.
CELERY_BEAT_SCHEDULER = "jiaxing_qs.beat:SingleBeatScheduler"
CELERY_BEAT_SYNC_EVERY = 1  # each send's last-run time is written at once: a beat taking over never sends it again
BEAT_LOCK_URL = envstr("BEAT_LOCK_URL")
BEAT_LOCK_SECONDS = envint("BEAT_LOCK_SECONDS", 30)
# With acks_late a task is taken back from a worker that dies; Redis gives an unacknowledged task to another
# worker after this many seconds, so it must exceed the longest task (the stages' time limit, 1,800 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TIMEZONE = "Asia/Shanghai"

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# With a shared cache (Redis), sessions are read from it and written through to the database: no session query
# on most requests. Without one, each process would keep its own copy and a logout would end the session only
# in the process that served it, so sessions are then read from the database.
SESSION_ENGINE = "django.contrib.sessions.backends." + ("cached_db" if CACHE_URL else "db")
AUTHENTICATION_BACKENDS = ["jiaxing_qs.auth.StaffModelBackend"]  # the user comes with their staff profile
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "regions:home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)  # seconds: a working day, then log in again
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie (forms carry the token, the API only reads), so scripts are not let near it.
CSRF_COOKIE_HTTPONLY = True

# Login throttling (jiaxing_qs/login.py): failures per username and per address within the window lock them.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 20)  # higher: a bureau's staff often share one address
LOGIN_FAILURE_WINDOW_MINUTES = envint("LOGIN_FAILURE_WINDOW_MINUTES", 15)
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", 15)
if min(LOGIN_FAILURE_LIMIT, LOGIN_IP_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_MINUTES, LOGIN_LOCKOUT_MINUTES) < 1:
    raise ImproperlyConfigured("The LOGIN_* failure limits, window and lockout must each be at least 1")
# Reverse proxies in front of the app: the client's address is then read from X-Forwarded-For.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)

# --- HTTPS (on by default when DEBUG is off) --------------------------------------------------
# Cookies only over HTTPS, HTTP redirected to HTTPS, browsers told to stay on HTTPS (HSTS). HTTPS=false only
# for a plain-HTTP intranet, where passwords and sessions then cross the network unencrypted.
HTTPS = envbool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", HTTPS)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto); without it behind such a proxy,
# SECURE_SSL_REDIRECT would redirect forever.
_PROXY_SSL_HEADER = envstr("SECURE_PROXY_SSL_HEADER")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.strip().upper().replace("-", "_"), "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start while it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Not the manifest storage: Leaflet's default marker icons break under hashed names.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

# Imports in the admin (common/import_admin.py): a file of more rows is refused before the rest is read, and the
# preview lists this many problems with their total (the command line, import_data, takes files of any size).
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", 100_000)
IMPORT_MAX_LISTED_PROBLEMS = envint("IMPORT_MAX_LISTED_PROBLEMS", 200)
if min(IMPORT_MAX_ROWS, IMPORT_MAX_LISTED_PROBLEMS) < 1:
    raise ImproperlyConfigured("IMPORT_MAX_ROWS and IMPORT_MAX_LISTED_PROBLEMS must each be at least 1")

# --- Maps -----------------------------------------------------------------------------------
# Base tiles are optional (offline intranets): empty means county outlines on a plain background.
MAP_TILE_URL = envstr("MAP_TILE_URL")
# The map data's fast path (regions/map_cache.py says why and what shows when): a map response is kept in each
# worker's memory for this long for every ticket of the same role and jurisdiction (0: off), so new colours made
# in another process show within it; a map ticket (a signed cookie) is valid this long (0: none issued), so a
# change that sends no signal (a queryset update, a session deleted without a logout) shows within it. A
# logout, a password, role or jurisdiction change show at once.
MAP_MICROCACHE_SECONDS = envint("MAP_MICROCACHE_SECONDS", 5)
MAP_TICKET_SECONDS = envint("MAP_TICKET_SECONDS", 300)
if MAP_MICROCACHE_SECONDS < 0 or MAP_TICKET_SECONDS < 0:
    raise ImproperlyConfigured("MAP_MICROCACHE_SECONDS and MAP_TICKET_SECONDS must be at least 0")
MAP_TILE_ATTRIBUTION = envstr("MAP_TILE_ATTRIBUTION")
LEAFLET_CONFIG = {
    "TILES": [(_("Base map"), MAP_TILE_URL, {"attribution": MAP_TILE_ATTRIBUTION})] if MAP_TILE_URL else [],
    "DEFAULT_CENTER": (30.75, 120.75),
    "DEFAULT_ZOOM": 9,
    "RESET_VIEW": False,
}

# The API (jiaxing_qs/api_urls.py): sessions for the pages, tokens for integrations (issued in the admin or
# with `manage.py drf_create_token USER`). Token first so an anonymous call gets 401 + WWW-Authenticate.
# Callers must be staff with a role; each view then starts its queries from their jurisdiction.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "regions.api.defaults.StaffWithRole"],
    "DEFAULT_PAGINATION_CLASS": "regions.api.defaults.ApiPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend", "common.api_query.OrderingFilter"],
    "DEFAULT_SCHEMA_CLASS": "common.api_schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "common.api_errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Jiaxing QS API",
    "DESCRIPTION": (
        "Read API of the risk-based product-quality supervision system. Every list is paginated (page, page_size ≤ 500), "
        "filterable and sortable (ordering); every record is limited to the caller's jurisdiction. Errors share one shape: "
        '{"error": {"code", "message", "details"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/",
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files: no CDN, usable offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
    # Several apps name a field "status" or "level": one enum name per choice set.
    "ENUM_NAME_OVERRIDES": {
        "RegionLevelEnum": "regions.models.Level",
        "GradeEnum": "products.models.Grade",
        "EnterpriseStatusEnum": "enterprises.models.Status",
        "SpotCheckLevelEnum": "inspections.models.SpotCheckLevel",
        "PlanStatusEnum": "inspections.models.PlanStatus",
        "TaskStatusEnum": "inspections.models.TaskStatus",
        "OrderStatusEnum": "inspections.models.OrderStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # One line per finished task repeats the whole pipeline report: keep it for debugging only.
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}

# --- E-mail (one of the notification channels) ----------------------------------------------
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "jiaxing-qs@localhost")

# History is evidence: it can be read, not reverted from the admin.
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_ENABLED = HistorySwitch()  # off only inside common.history.history_paused()

# Name shown on pages and printed codes.
BUREAU_NAME = envstr("BUREAU_NAME", "嘉兴市市场监督管理局")
BUREAU_PHONE = envstr("BUREAU_PHONE", "12315")  # contact shown on the public quality-code page
# Printed quality codes (一码) encode absolute URLs: set this to the address the public reaches the app at.
# Unset, codes encode this machine's demo address and the card page and `manage.py check` say so loudly.
PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL", "")

# DingTalk's server API (work notifications, 免登; inspections.dingtalk). The apps' keys are per bureau, in the
# admin's notification settings; only the address is set here, so tests and an intranet relay can stand in for it.
DINGTALK_API_URL = envstr("DINGTALK_API_URL", "https://oapi.dingtalk.com")
DINGTALK_TIMEOUT = envint("DINGTALK_TIMEOUT", 10)  # seconds per request
# A work notification is checked for delivery (getsendresult) this many seconds after DingTalk accepted it; 0: no check.
DINGTALK_DELIVERY_CHECK_SECONDS = envint("DINGTALK_DELIVERY_CHECK_SECONDS", 120)
if not DINGTALK_API_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"DINGTALK_API_URL must be an http(s):// address, got {DINGTALK_API_URL!r}")
if DINGTALK_TIMEOUT < 1 or DINGTALK_DELIVERY_CHECK_SECONDS < 0:
    raise ImproperlyConfigured("DINGTALK_TIMEOUT must be at least 1 and DINGTALK_DELIVERY_CHECK_SECONDS at least 0")
