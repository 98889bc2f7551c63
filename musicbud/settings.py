"""The one settings module. Every deployment-specific value comes from an environment variable.

Defaults are the embedded ones (SQLite, local-memory cache, the built-in interaction store), so a
laptop runs with no services; production values that have no safe default fail loudly.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from musicbud.env import (
    env_bool,
    env_choice,
    env_int,
    env_json_object,
    env_list,
    env_memory,
    env_per_type,
    env_required,
    env_str,
    env_throttle_rate,
    load_env_file,
)

# Lets typed code subscript Django generics at run time (admin.ModelAdmin[Event], QuerySet[...]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# `make demo` writes <repo>/.env (DEBUG and a generated SECRET_KEY), so manage.py works from a plain shell;
# a deployment names its own file with MUSICBUD_ENV_FILE. Variables already set in the environment win.
ENV_FILE = load_env_file(BASE_DIR / ".env")
# Everything the app writes by default (SQLite file, models, collected static) stays in one ignored folder.
DATA_DIR = Path(env_str("MUSICBUD_DATA_DIR") or BASE_DIR / ".data")

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    # Only a development server may run on a known key; it signs nothing that matters.
    SECRET_KEY = env_str("SECRET_KEY") or "insecure-development-key-do-not-use-in-production"
else:
    SECRET_KEY = env_required("SECRET_KEY", "it signs sessions and JWTs; set DEBUG=true for development")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The task queue (django-tasks: Django 6's tasks framework for 5.2) and its database backend.
    "django_tasks",
    "django_tasks_db",
    "musicbud.apps.ProjectConfig",
    "recommendations",
    "analytics",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The API's routes (/v1/, musicbud/asgi.py) need no sessions, CSRF or messages: a bearer token is not ambient
# authority. The same middleware classes as above, run inline on the event loop (they do no I/O).
API_MIDDLEWARE = [
    "musicbud.middleware.ApiSecurityMiddleware",
    "musicbud.middleware.ApiCommonMiddleware",
    "musicbud.middleware.ApiXFrameOptionsMiddleware",
]
# An ASGI app in front of the API's Django stack that serves recommendation pages without Django's request
# cycle (recommendations/api/fast.py says why); false hands every request to Django.
API_FAST_PATH = "recommendations.api.fast.RecommendationPages" if env_bool("API_FAST_PATH", True) else ""

ROOT_URLCONF = "musicbud.urls"
WSGI_APPLICATION = "musicbud.wsgi.application"
ASGI_APPLICATION = "musicbud.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    # The embedded default: a SQLite file in the data folder, which must exist before SQLite opens it.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # Persistent connections: opening one per request would dominate a cached recommendation.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # Under ASGI each request runs its ORM work in a thread of its own, so thread-local persistent
    # connections are never reused; a process-wide pool (psycopg 3) is what avoids a connect per request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_MAX", 20, minimum=1),
        "timeout": 10,
    }
if env_str("DATABASE_TEST_NAME"):
    # Lets several test runs share one PostgreSQL server without fighting over test_<name>.
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------------
# What workers share (recommendation pages, throttle counters, the deny list) goes through
# musicbud/cache.py: Redis' native asyncio client when REDIS_URL is set (production). Without it, the embedded
# EMBEDDED_CACHE: "file" (default), one SQLite file (CACHE_FILE) that the server's workers and every manage.py
# command share, so a command's hide, forget or clear reaches the running server; "memory", Django's
# local-memory cache below, one per process (reaches no other worker or command: a benchmark's baseline).
# Django itself caches nothing that must be shared.
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_CACHE = env_choice("EMBEDDED_CACHE", "file", ["file", "memory"])
CACHE_FILE = Path(env_str("CACHE_FILE") or DATA_DIR / "cache.sqlite3")
CACHES: dict[str, dict[str, Any]] = {
    # Django's default of 300 entries culled pages under load (200 users' pages, generations and counters: most
    # requests were misses in bench/embedded.py).
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "musicbud",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}

# --- Interaction data and models ------------------------------------------------------------------
RECOMMENDATIONS_SOURCE = env_choice("RECOMMENDATIONS_SOURCE", "database", ["database", "neo4j"])
NEO4J_URI = env_str("NEO4J_URI") or None
NEO4J_USER = env_str("NEO4J_USER") or "neo4j"
NEO4J_PASSWORD = env_str("NEO4J_PASSWORD") or ""
if RECOMMENDATIONS_SOURCE == "neo4j" and not NEO4J_URI:
    raise ImproperlyConfigured("RECOMMENDATIONS_SOURCE=neo4j needs NEO4J_URI (e.g. bolt://127.0.0.1:7687)")
if NEO4J_URI and not NEO4J_PASSWORD:
    raise ImproperlyConfigured("NEO4J_URI is set but NEO4J_PASSWORD is empty")
# Prefix of every label the app uses ("" in production): lets tests or a staging copy share one server.
NEO4J_LABEL_PREFIX = env_str("NEO4J_LABEL_PREFIX") or ""
if not re.fullmatch(r"([A-Z][A-Za-z0-9]{0,30})?", NEO4J_LABEL_PREFIX):
    raise ImproperlyConfigured("NEO4J_LABEL_PREFIX must be empty or a label-like word such as 'Staging'")
# Which schema the graph has (recommendations/data/graph_profiles.py): "native" (this service's own) or
# "musicbud" (the graph MusicBud's backend writes: people, their IMDb/MAL accounts, edges without properties).
NEO4J_GRAPH_PROFILE = env_choice("NEO4J_GRAPH_PROFILE", "native", ["native", "musicbud"])
# Seconds. Bounded so that an unreachable graph is a fast typed error, never a hung request.
NEO4J_CONNECTION_TIMEOUT = env_int("NEO4J_CONNECTION_TIMEOUT", 5, minimum=1)
NEO4J_QUERY_TIMEOUT = env_int("NEO4J_QUERY_TIMEOUT", 60, minimum=1)

MODEL_DIR = Path(env_str("MODEL_DIR") or DATA_DIR / "models")
# Overrides of the engine's documented defaults (recommendations/engine/config.py), as a JSON object.
RECOMMENDATIONS_ENGINE = env_json_object("RECOMMENDATIONS_ENGINE")
# Seconds a computed recommendation page stays cached; invalidation makes it unreachable earlier.
RECOMMENDATIONS_CACHE_TTL = env_int("RECOMMENDATIONS_CACHE_TTL", 3600, minimum=1)
# A/B experiment as JSON, e.g. {"name": "model-vs-popular-2026-11", "variants": {"control": 0.5, "popular": 0.5}};
# unset means everyone is in "control". Validated at start-up (recommendations.experiments).
RECOMMENDATIONS_EXPERIMENT = env_json_object("RECOMMENDATIONS_EXPERIMENT") or None
# Seconds after which a training run still marked running is taken for dead and its lock released. It only
# applies to a run no worker took yet (no heartbeat): a run in a worker is judged by its heartbeat (below).
TRAINING_LOCK_TTL = env_int("TRAINING_LOCK_TTL", 6 * 3600, minimum=60)
# Seconds between a running training's heartbeats (its TrainingLog row), and after how many seconds without
# one the run is taken for dead (its worker was killed): marked failed, the type's lock released. Every worker
# and every new training checks; with the defaults a killed worker's run is failed 30-35 s after it died.
TRAINING_HEARTBEAT_S = env_int("TRAINING_HEARTBEAT_S", 5, minimum=1)
TRAINING_STALE_AFTER_S = env_int("TRAINING_STALE_AFTER_S", 30, minimum=3)
if TRAINING_STALE_AFTER_S < 3 * TRAINING_HEARTBEAT_S:
    raise ImproperlyConfigured("TRAINING_STALE_AFTER_S must be at least 3 heartbeats (TRAINING_HEARTBEAT_S)")
# Seconds between the worker's passes over the whole interaction outbox (accepted feedback the store did not
# take yet, e.g. while the graph was down); every events request also queues a drain of its user's changes.
OUTBOX_DRAIN_INTERVAL_S = env_int("OUTBOX_DRAIN_INTERVAL_S", 10, minimum=1)
# Coroutine functions every web worker runs from start-up to shutdown (musicbud/asgi.py's lifespan). Empty:
# background work runs in the worker (`manage.py run_worker`), never in a web process.
LIFESPAN_TASKS: list[str] = []

# --- Background work (django-tasks; docs/operations.md "The worker") --------------------------------
# "database": tasks are rows in the database, run by `manage.py run_worker` (production, the demo);
# "immediate": run at once in the process that enqueues them (tests that are not about the worker).
TASKS_BACKEND = env_choice("TASKS_BACKEND", "database", ["database", "immediate"])
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND],
        "QUEUES": ["default", "training"],
    }
}
# Seconds the worker waits between looks at an empty queue: how late a queued drain or training starts.
WORKER_POLL_S = float(env_int("WORKER_POLL_MS", 500, minimum=10)) / 1000
# Days a task's row is kept once it ran (the admin's "Task Results"); recommendations.tasks.prune_task_results.
TASK_RESULTS_KEEP_DAYS = env_int("TASK_RESULTS_KEEP_DAYS", 7, minimum=1)
# Functions (dotted paths, no arguments; sync, or async) the worker calls periodically, and how often (seconds).
WORKER_PERIODIC = {
    "recommendations.training.reap_stalled_trainings": TRAINING_HEARTBEAT_S,
    "recommendations.outbox.drain_pass": OUTBOX_DRAIN_INTERVAL_S,
    "recommendations.tasks.prune_task_results": 3600,
    # Invalidations that did not reach the cache (recorded in PendingInvalidation), retried until they do.
    "recommendations.caching.aretry_pending_invalidations": 10,
}

# --- Events ---------------------------------------------------------------------------------------
# Mobile clients buffer events offline: one up to this many days old is accepted (the daily rollup
# recomputes as many days back). A client clock ahead of ours by up to the skew is taken as now; further
# ahead is refused (400 event_in_future).
EVENTS_MAX_AGE_DAYS = env_int("EVENTS_MAX_AGE_DAYS", 7, minimum=1)
EVENTS_MAX_CLOCK_SKEW_S = env_int("EVENTS_MAX_CLOCK_SKEW_S", 300, minimum=0)

# --- Training on Spark (recommendations/engine/spark.py) ---------------------------------------------
# Where each type trains: "local" (this machine; selection among EASE, ALS, LightFM) or "spark" (Spark
# MLlib's ALS against popularity), one value for all types or a JSON object such as
# {"movies": "spark", "*": "local"}. The content types' values (recommendations.domain.ContentType;
# tests/test_settings.py keeps the two lists equal).
RECOMMENDATIONS_TRAINER = env_per_type(
    "RECOMMENDATIONS_TRAINER", "local", ["local", "spark"], ["movies", "manga", "anime"]
)
# The cluster's master URL ("spark://host:7077", "yarn", "k8s://..."; "local[2]" runs Spark inside the
# training process). No default: a typo must not quietly train on this machine.
SPARK_MASTER_URL = env_str("SPARK_MASTER_URL") or ""
if "spark" in RECOMMENDATIONS_TRAINER.values() and not SPARK_MASTER_URL:
    raise ImproperlyConfigured(
        "RECOMMENDATIONS_TRAINER uses spark: set SPARK_MASTER_URL (e.g. local[2] or spark://host:7077)"
    )
# The driver JVM's heap (in local mode also the executor's): 1g trained 4M interactions (bench/scale.py).
SPARK_DRIVER_MEMORY = env_memory("SPARK_DRIVER_MEMORY", "1g")
SPARK_EXECUTOR_MEMORY = env_memory("SPARK_EXECUTOR_MEMORY", "1g")
# Where a training writes the Parquet Spark reads: on a cluster, a path every executor sees the same.
SPARK_STAGING_DIR = Path(env_str("SPARK_STAGING_DIR") or DATA_DIR / "spark")
# Any other Spark setting, as a JSON object of strings ({"spark.executor.cores": "4"}).
SPARK_CONF = env_json_object("SPARK_CONF")
if not all(isinstance(k, str) and k.startswith("spark.") and isinstance(v, str) for k, v in SPARK_CONF.items()):
    raise ImproperlyConfigured('SPARK_CONF must map "spark.*" names to string values')

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Stateless: no user row is read per request (musicbud/auth.py says how deactivation is bounded).
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "musicbud.api.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Our async views count requests in musicbud.api.check_caller; this class serves DRF's sync views.
    "DEFAULT_THROTTLE_CLASSES": ["musicbud.throttling.RateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_throttle_rate("THROTTLE_RATE_USER", "600/minute"),
        # Public endpoints (the guests' lists), per client address.
        "address": env_throttle_rate("THROTTLE_RATE_ADDRESS", "120/minute"),
    },
    # The client address of an anonymous caller: REMOTE_ADDR with 0, else the address that many proxies
    # back in X-Forwarded-For. Never the whole header as DRF's default does: a client could then pick a
    # new address per request and never be throttled.
    "NUM_PROXIES": env_int("THROTTLE_NUM_PROXIES", 0, minimum=0),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "SIGNING_KEY": SECRET_KEY,
    "TOKEN_OBTAIN_SERIALIZER": "musicbud.auth.TokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "musicbud.auth.TokenRefreshUserSerializer",
}
# MusicBud's own access tokens, accepted beside ours (musicbud/musicbud_tokens.py, docs/musicbud.md): the key
# MusicBud's backend signs them with (its SECRET_KEY) and a database holding its app_djangoparentuser table
# (read only). Both or neither; unset: off.
MUSICBUD_JWT_SIGNING_KEY = env_str("MUSICBUD_JWT_SIGNING_KEY") or None
MUSICBUD_USERS_DATABASE_URL = env_str("MUSICBUD_USERS_DATABASE_URL") or None
if bool(MUSICBUD_JWT_SIGNING_KEY) != bool(MUSICBUD_USERS_DATABASE_URL):
    raise ImproperlyConfigured(
        "MUSICBUD_JWT_SIGNING_KEY and MUSICBUD_USERS_DATABASE_URL go together: set both or neither."
    )
if MUSICBUD_JWT_SIGNING_KEY == SECRET_KEY:
    # One key for both would make every token of ours a MusicBud token too, naming another user.
    raise ImproperlyConfigured("MUSICBUD_JWT_SIGNING_KEY must differ from SECRET_KEY.")
if MUSICBUD_USERS_DATABASE_URL and not MUSICBUD_USERS_DATABASE_URL.startswith(
    ("postgres://", "postgresql://", "sqlite:///")
):
    raise ImproperlyConfigured("MUSICBUD_USERS_DATABASE_URL must be a postgres://, postgresql:// or sqlite:/// URL.")
SPECTACULAR_SETTINGS = {
    "TITLE": "MusicBud Recommendations API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Request bodies get components of their own, so a field that refuses blank strings says so (minLength 1)
    # where clients send it, without claiming that of what the server answers.
    "COMPONENT_SPLIT_REQUEST": True,
    # What the serializers cannot say (one path per content type, events by kind, links): the app's hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "recommendations.api.schema.postprocess",
    ],
    # One schema name per set of choices that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "ContentTypeEnum": ["movies", "manga", "anime"],
        "ContentTypeOrAllEnum": ["all", "movies", "manga", "anime"],
        "PageSourceEnum": ["model", "popularity"],
        "ListSourceEnum": ["model", "popularity", "catalog"],
    },
}

# --- Auth, i18n, static -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Dates in the admin as ISO 8601 with their zone (musicbud/formats/en/formats.py).
FORMAT_MODULE_PATH = ["musicbud.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' folders when nothing was collected (demo, tests).
WHITENOISE_USE_FINDERS = True

# --- Production hardening (no effect on a DEBUG server) ----------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Email (failure notices of the retraining cron job) -----------------------------------------------
# "Ada Lovelace ada@example.com, ops@example.com": the last word of an entry is the address.
ADMINS = [(entry.rpartition(" ")[0] or entry, entry.rpartition(" ")[2]) for entry in env_list("ADMINS", [])]
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
SERVER_EMAIL = DEFAULT_FROM_EMAIL = env_str("SERVER_EMAIL") or "musicbud@localhost"

# Every line goes to stderr (the server's, or a command's), one line per event: "django" keeps only the mail
# handler of Django's defaults (its own DEBUG-only console handler printed every 4xx a second time, unformatted).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "neo4j": {"level": "WARNING"},
        "py4j": {"level": "WARNING"},
    },
}
