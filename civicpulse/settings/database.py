"""The database connection, from the environment (imported by base.py once .env has been
read into it)."""

import environ

__all__ = ["DATABASES", "DATABASE_ROUTERS"]

env = environ.Env()

DATABASES = {
    # The project-local server scripts/services.sh starts, on its port, unless named.
    "default": env.db_url(
        "DATABASE_URL",
        default=f"postgres://civicpulse@127.0.0.1:{env.int('CIVICPULSE_PG_PORT', default=55432)}/civicpulse",
    ),
}
# django-tenants routes queries by schema through its own backend, whatever the URL says
# (civicpulse.core.database: that backend, with fewer round trips per request).
DATABASES["default"]["ENGINE"] = "civicpulse.core.database"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A form's choices (a category list) are read with one query instead of a server-side
# cursor's three round trips; nothing here streams a result too large to hold, and
# PgBouncer in transaction mode needs them off too.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A server that vanishes without a word (its host down, the network cut) leaves a
# connection waiting on a socket that never answers: a request, a task, or a group
# commit's writer (reports.services.insert_group) would wait until the operating system
# gives up, which takes many minutes. TCP keepalives find the dead peer of a connection
# waiting for an answer within about a minute, and tcp_user_timeout fails one whose sent
# data stays unacknowledged (or unsent, the server reading none) as long. A long query is
# not cut: a live server's system acknowledges both while it works. An import's COPY is,
# if the server reads none of it for a minute. DATABASE_URL's query string
# (?keepalives_idle=…) wins over each of these libpq options.
_options = DATABASES["default"].setdefault("OPTIONS", {})
for _option, _value in {
    "connect_timeout": 5,  # s
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # ms: as long as the keepalives take
}.items():
    _options.setdefault(_option, _value)
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
