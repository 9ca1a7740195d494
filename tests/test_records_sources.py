"""Record sources' Socrata app tokens are stored encrypted as tenants' model keys are
(llm.secrets, MultiFernet over LLM_SECRET_KEY): through the service and the console,
by the migration that encrypted the tokens stored before, and again on rotation."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics.records.models import RecordSource
from analytics.records.sources import record_source_save
from llm.secrets import secret_decrypt, secret_encrypt

PORTAL = "https://data.example.org"


@pytest.fixture
def key(settings) -> str:
    settings.LLM_SECRET_KEY = Fernet.generate_key().decode()
    return settings.LLM_SECRET_KEY


def _stored(dataset: str) -> str:
    return RecordSource.objects.values_list("app_token_encrypted", flat=True).get(dataset=dataset)


def test_the_service_stores_the_token_encrypted_keeps_or_clears_it(tenant_a, key: str) -> None:
    source = record_source_save(
        source=RecordSource(dataset="permits", base_url=PORTAL, resource_id="ydr8-5enu"), app_token="tok-123"
    )
    stored = _stored("permits")
    assert "tok-123" not in stored and secret_decrypt(stored) == "tok-123"
    source.resource_id = "ydr8-5env"
    record_source_save(source=source)  # no token given: the stored one stays
    assert _stored("permits") == stored
    record_source_save(source=source, clear_app_token=True)
    assert _stored("permits") == ""


def test_the_console_form_encrypts_and_never_shows_the_token(client_a, tenant_a, key: str) -> None:
    get_user_model().objects.create_superuser("sources", "s@example.org", "pw-sources-123456")
    client_a.post("/admin/login/", {"username": "sources", "password": "pw-sources-123456"})
    form = {
        "dataset": "violations",
        "base_url": PORTAL,
        "resource_id": "22u3-xenr",
        "format": "chicago",
        "app_token": "console-token",
        "active": "on",
    }
    response = client_a.post("/admin/analytics/recordsource/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert secret_decrypt(_stored("violations")) == "console-token"
    page = client_a.get(f"/admin/analytics/recordsource/{RecordSource.objects.get().pk}/change/")
    assert page.status_code == 200 and "console-token" not in page.content.decode()


def test_the_migration_encrypts_tokens_stored_in_plaintext(tenant_a, key: str) -> None:
    before = [("analytics", "0016_property_views_supporting_counts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    plain = executor.loader.project_state(before).apps.get_model("analytics", "RecordSource")
    plain.objects.create(dataset="permits", base_url=PORTAL, resource_id="ydr8-5enu", app_token="plain-token")
    plain.objects.create(dataset="violations", base_url=PORTAL, resource_id="22u3-xenr", app_token="")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    stored = _stored("permits")
    assert "plain-token" not in stored and secret_decrypt(stored) == "plain-token"
    assert _stored("violations") == ""


def test_rotation_re_encrypts_with_the_first_key(tenant_a, settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LLM_SECRET_KEY = old
    RecordSource.objects.create(
        dataset="permits", base_url=PORTAL, resource_id="ydr8-5enu", app_token_encrypted=secret_encrypt("tok")
    )
    settings.LLM_SECRET_KEY = f"{new},{old}"
    out = StringIO()
    call_command("rotate_record_secrets", stdout=out, stderr=StringIO())
    assert "rotated: 1" in out.getvalue() and "unreadable: 0" in out.getvalue()
    settings.LLM_SECRET_KEY = new
    assert secret_decrypt(_stored("permits")) == "tok"
