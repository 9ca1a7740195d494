"""Exporting a tenant's data: a zip of CSV files, one per table worth exporting, and the
tenant's files (residents' photos and the like), with `manifest.json` listing each file,
its row count and its SHA-256.

The platform app knows no tenant app, so the export works on the tenant's schema as SQL:
every base table of the schema is copied (COPY ... TO STDOUT, streamed into the zip, so a
big tenant never sits in memory), but for plumbing and credentials, which are left out and
named in the manifest: sessions, migrations, permissions, sign-in attempts, beat
schedules, password hashes, API key digests, encrypted model keys, tokens. All tables are
read in one REPEATABLE READ snapshot, so rows that point at each other are exported
together. Text cells that a spreadsheet would run as a formula (starting with = + - @, a
tab or a carriage return) carry a leading apostrophe, as every CSV the product serves.
"""

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from civicpulse.core.sql import copy
from tenants.models import Tenant, TenantExport

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Tables that are plumbing or credentials, not the tenant's data (prefixes).
EXCLUDED_TABLE_PREFIXES = (
    "django_migrations",
    "django_session",
    "django_content_type",
    "django_celery_beat_",
    "auth_permission",
    "auth_group_permissions",
    "auth_user_user_permissions",
    "axes_",
    "token_blacklist_",
)
# Columns that hold secrets or keys to them, by exact name or by ending.
EXCLUDED_COLUMNS = frozenset({"password", "digest", "token"})
EXCLUDED_COLUMN_SUFFIXES = ("_encrypted", "_hash", "_token", "_secret")
TEXT_TYPES = frozenset({"text", "character varying", "character"})
# A cell starting with one of these runs as a formula in a spreadsheet.
FORMULA_START = "^[-=+@\t\r]"
CHUNK = 1024 * 1024
PROGRESS_TTL_S = 24 * 3600

Progress = Callable[[str], None]


def progress_key(export_id: int) -> str:
    return f"tenant-export-progress:{export_id}"


def export_progress(export_id: int) -> dict[str, Any] | None:
    """What a running export has done so far (None: nothing known, e.g. the cache is down)."""
    try:
        return cache.get(progress_key(export_id))
    except Exception:  # the cache is a convenience here; the export's row has the outcome
        return None


def _publish(export_id: int | None, state: dict[str, Any]) -> None:
    if export_id is None:
        return
    try:
        cache.set(progress_key(export_id), state, PROGRESS_TTL_S)
    except Exception as exc:
        logger.warning("export progress not published", extra={"export_id": export_id, "error": repr(exc)})


@dataclass
class _Manifest:
    files: list[dict[str, Any]] = field(default_factory=list)
    excluded_tables: list[str] = field(default_factory=list)
    excluded_columns: dict[str, list[str]] = field(default_factory=dict)


def _excluded_table(name: str) -> bool:
    return name.startswith(EXCLUDED_TABLE_PREFIXES)


def _excluded_column(name: str) -> bool:
    return name in EXCLUDED_COLUMNS or name.endswith(EXCLUDED_COLUMN_SUFFIXES)


def _tables(schema: str) -> dict[str, list[tuple[str, str]]]:
    """Each base table of the schema with its columns (name, type), in column order."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position
            """,
            [schema],
        )
        tables: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in cursor.fetchall():
            tables.setdefault(table, []).append((column, data_type))
    return tables


def _select(schema: str, table: str, columns: list[tuple[str, str]]) -> sql.Composed:
    parts: list[sql.Composable] = []
    for name, data_type in columns:
        column = sql.Identifier(name)
        if data_type in TEXT_TYPES:
            parts.append(
                sql.SQL("CASE WHEN {c} ~ {p} THEN '''' || {c} ELSE {c} END AS {c}").format(
                    c=column, p=sql.Literal(FORMULA_START)
                )
            )
        else:
            parts.append(column)
    order = (
        sql.SQL(" ORDER BY {}").format(sql.Identifier("id"))
        if any(n == "id" for n, _ in columns)
        else sql.SQL("")
    )
    return sql.SQL("SELECT {cols} FROM {table}{order}").format(
        cols=sql.SQL(", ").join(parts), table=sql.Identifier(schema, table), order=order
    )


class _Hashing:
    """A writable stream into the zip that counts and hashes what passes."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.sha.update(data)
        self.size += len(data)


def _export_table(
    archive: zipfile.ZipFile, schema: str, table: str, columns: list[tuple[str, str]]
) -> dict[str, Any]:
    path = f"tables/{table}.csv"
    with archive.open(path, "w", force_zip64=True) as raw, connection.cursor() as cursor:
        out = _Hashing(raw)
        with copy(
            cursor,
            "COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)",
            query=_select(schema, table, columns),
        ) as stream:
            for chunk in stream:
                out.write(bytes(chunk))
        rows = cursor.cursor.rowcount
    return {"path": path, "table": table, "rows": rows, "bytes": out.size, "sha256": out.sha.hexdigest()}


def tenant_media_root(tenant: Tenant) -> Path:
    """Where the tenant's uploaded files live (TenantFileSystemStorage's folder)."""
    return Path(settings.MEDIA_ROOT) / (settings.MULTITENANT_RELATIVE_MEDIA_ROOT % tenant.schema_name)


def _media_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for folder, _dirs, names in sorted(os.walk(root)):
            for name in sorted(names):
                yield Path(folder) / name


def _export_file(archive: zipfile.ZipFile, root: Path, file: Path) -> dict[str, Any]:
    path = f"media/{file.relative_to(root).as_posix()}"
    with archive.open(path, "w", force_zip64=True) as raw, file.open("rb") as source:
        out = _Hashing(raw)
        while chunk := source.read(CHUNK):
            out.write(chunk)
    return {"path": path, "bytes": out.size, "sha256": out.sha.hexdigest()}


@contextmanager
def _snapshot() -> Iterator[bool]:
    """One REPEATABLE READ, read-only snapshot for every table, when we own the
    transaction (inside someone else's, e.g. a test's, we read in theirs)."""
    if connection.in_atomic_block:
        yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield True


def tenant_export_write(
    *, tenant: Tenant, target: Path, export_id: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the tenant's export to `target` (a zip); returns its manifest."""
    say = progress or (lambda line: None)
    schema = tenant.schema_name
    manifest = _Manifest()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with _snapshot() as snapshot:
            tables = _tables(schema)
            wanted = {t: c for t, c in tables.items() if not _excluded_table(t)}
            manifest.excluded_tables = sorted(set(tables) - set(wanted))
            rows = 0
            for done, (table, columns) in enumerate(sorted(wanted.items())):
                _publish(
                    export_id,
                    {"tables_done": done, "tables_total": len(wanted), "rows": rows, "current": table},
                )
                kept = [c for c in columns if not _excluded_column(c[0])]
                if len(kept) < len(columns):
                    manifest.excluded_columns[table] = [c[0] for c in columns if _excluded_column(c[0])]
                entry = _export_table(archive, schema, table, kept)
                manifest.files.append(entry)
                rows += entry["rows"]
                say(f"{table}: {entry['rows']} rows")
        root = tenant_media_root(tenant)
        _publish(
            export_id,
            {"tables_done": len(wanted), "tables_total": len(wanted), "rows": rows, "current": "files"},
        )
        for count, file in enumerate(_media_files(root), start=1):
            manifest.files.append(_export_file(archive, root, file))
            if count % 100 == 0:
                say(f"files: {count}")
        document = {
            "format": "civicpulse-tenant-export",
            "version": FORMAT_VERSION,
            "tenant": {"slug": schema, "name": tenant.name, "kind": tenant.kind, "timezone": tenant.timezone},
            "exported_at": timezone.now().isoformat(),
            "consistent_snapshot": snapshot,
            "formula_escaped": "text cells starting with = + - @, a tab or a carriage return carry a leading '",
            "excluded_tables": manifest.excluded_tables,
            "excluded_columns": manifest.excluded_columns,
            "files": manifest.files,
        }
        archive.writestr("manifest.json", json.dumps(document, indent=2))
    return document


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def tenant_export_request(*, tenant: Tenant, actor: Any = None) -> TenantExport:
    """Record an export to be taken and queue it once the record is committed."""
    from tenants.tasks import export_tenant

    export = TenantExport.objects.create(tenant=tenant, requested_by=getattr(actor, "username", "") or "")
    transaction.on_commit(lambda: export_tenant.delay(export.pk))
    return export


def export_path(export: TenantExport) -> Path:
    return Path(settings.TENANT_EXPORT_ROOT) / export.file_name


def tenant_export_run(*, export_id: int, progress: Progress | None = None) -> TenantExport | None:
    """Take a requested export. Claimed with a conditional UPDATE, so a redelivered task
    never writes the same export twice; a failure is recorded on the export."""
    now = timezone.now()
    claimed = TenantExport.objects.filter(pk=export_id, status=TenantExport.Status.PENDING).update(
        status=TenantExport.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    export = TenantExport.objects.select_related("tenant").get(pk=export_id)
    slug = export.tenant.schema_name
    file_name = f"{slug}/{slug}-{now:%Y%m%dT%H%M%S}-{export.pk}.zip"
    target = Path(settings.TENANT_EXPORT_ROOT) / file_name
    partial = target.with_suffix(".zip.part")
    try:
        manifest = tenant_export_write(
            tenant=export.tenant, target=partial, export_id=export.pk, progress=progress
        )
        partial.replace(target)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        TenantExport.objects.filter(pk=export_id).update(
            status=TenantExport.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.exception("tenant export failed", extra={"slug": slug, "export_id": export_id})
        return TenantExport.objects.get(pk=export_id)
    tables = [f for f in manifest["files"] if "table" in f]
    TenantExport.objects.filter(pk=export_id).update(
        status=TenantExport.Status.DONE,
        finished_at=timezone.now(),
        file_name=file_name,
        size_bytes=target.stat().st_size,
        sha256=_file_sha256(target),
        tables=len(tables),
        rows=sum(f["rows"] for f in tables),
        files=len(manifest["files"]) - len(tables),
    )
    logger.info("tenant exported", extra={"slug": slug, "export_id": export_id, "file": file_name})
    return TenantExport.objects.get(pk=export_id)
