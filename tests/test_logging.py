"""Every log line is JSON with the tenant and the request id, in web and worker alike."""

import io
import json
import logging

import pytest

from civicpulse.celery import _task_log_context
from civicpulse.core.logging import ContextFilter, JsonFormatter


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_request_lines_carry_tenant_and_request_id(json_lines, client_a, db) -> None:
    response = client_a.get("/", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"
    access = [line for line in json_lines() if line["logger"] == "civicpulse.request"]
    assert access, "no access log line"
    assert access[-1]["tenant"] == "alpha"
    assert access[-1]["request_id"] == "req-123"
    assert access[-1]["status"] == 200 and access[-1]["path"] == "/"


def test_unsafe_request_ids_are_replaced(json_lines, client_a, db) -> None:
    response = client_a.get("/", HTTP_X_REQUEST_ID='bad"\nid')
    assert response["X-Request-ID"] != 'bad"\nid'
    assert len(response["X-Request-ID"]) == 32


def test_not_found_lines_keep_the_request_id(json_lines, db, tenant_pair) -> None:
    from django.test import Client

    Client(HTTP_HOST="nowhere.localhost").get("/", HTTP_X_REQUEST_ID="req-404")
    lines = [line for line in json_lines() if line["request_id"] == "req-404"]
    assert any(line["logger"] == "civicpulse.request" and line["status"] == 404 for line in lines)


def test_task_lines_carry_the_task_schema_and_id(json_lines) -> None:
    class FakeRequest(dict):
        headers = {"_schema_name": "beta-hotel"}

    class FakeTask:
        request = FakeRequest()

    _task_log_context(task=FakeTask(), task_id="task-42")
    logging.getLogger("reports.pipeline").info("processing")
    line = json_lines()[-1]
    assert line == {**line, "tenant": "beta-hotel", "request_id": "task-42", "message": "processing"}
