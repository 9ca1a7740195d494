"""One tenant cannot switch the language model off for the others on the same endpoint:
the concurrency slots are shared under a global cap but held per tenant, the circuit
breaker is kept per endpoint and tenant, and a tenant's own timeout is held to 1-30 s."""

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from llm.client import EndpointConfig, tenant_slot_limit, tenant_timeout
from llm.limiter import NoSlot, model_slot
from llm.models import Endpoint, ModelCall
from llm.types import CategoryInfo
from tests.support.llm_server import FakeModel

CATEGORIES = [
    CategoryInfo("potholes", "Potholes", "Holes and cracks in the road", ("pothole",), "medium"),
    CategoryInfo("other", "Other", "Anything else", (), "low"),
]
ANSWER = {"category": "potholes", "severity": "medium", "summary": "Pothole", "confidence": 0.9}


@pytest.fixture
def shared_model(settings) -> Iterator[FakeModel]:
    """The operator's model, which every tenant uses."""
    server = FakeModel().start()
    server.answer = lambda request: ANSWER
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = server.url, "test-model", "k"
    settings.LLM_TIMEOUT, settings.LLM_RETRIES, settings.LLM_RETRY_BACKOFF = 0.5, 1, 0.01
    settings.LLM_SLOT_WAIT = 0.2
    yield server
    server.stop()


def _endpoint(url: str) -> str:
    return EndpointConfig(url, "m", "", 1.0, "operator").endpoint


def test_a_tenant_whose_calls_keep_failing_opens_the_breaker_for_itself_only(
    tenant_pair, db, shared_model: FakeModel
) -> None:
    from llm.services import classify_report

    alpha, beta = tenant_pair
    try:
        connection.set_tenant(alpha)
        shared_model.mode = "500"
        for _ in range(3):  # two attempts each: the fifth fault opens alpha's circuit
            classify_report(text="Pothole", categories=CATEGORIES)
        assert "circuit open" in classify_report(text="Pothole", categories=CATEGORIES).note
        # The model is fine again, but alpha leaves it alone for the cool-down...
        shared_model.mode = "ok"
        assert classify_report(text="Pothole", categories=CATEGORIES).classifier.startswith("offline-")
        # ...while beta, on the very same endpoint, is answered by it.
        connection.set_tenant(beta)
        result = classify_report(text="Pothole", categories=CATEGORIES)
        assert result.classifier == "llm:test-model" and result.note == ""
        assert ModelCall.objects.get().outcome == "ok"
    finally:
        connection.set_schema_to_public()


def test_one_tenants_burst_leaves_slots_for_the_others(tenant_pair, db, settings, shared_model) -> None:
    from llm.services import classify_report

    alpha, beta = tenant_pair
    settings.LLM_MAX_CONCURRENCY, settings.LLM_MAX_CONCURRENCY_PER_TENANT = 4, 2
    endpoint = _endpoint(shared_model.url)
    hold = {"limit": 4, "tenant_limit": 2, "hold_s": 30, "wait_s": 0.1}
    try:
        # Alpha's calls hold every slot alpha may have.
        with model_slot(endpoint, tenant=alpha.schema_name, **hold):
            with model_slot(endpoint, tenant=alpha.schema_name, **hold):
                connection.set_tenant(alpha)
                busy = classify_report(text="Pothole", categories=CATEGORIES)
                assert busy.classifier.startswith("offline-") and "busy" in busy.note
                connection.set_tenant(beta)
                assert classify_report(text="Pothole", categories=CATEGORIES).classifier == "llm:test-model"
    finally:
        connection.set_schema_to_public()


def test_the_endpoint_cap_holds_across_tenants() -> None:
    endpoint = "http://cap.test:80"
    hold = {"limit": 3, "tenant_limit": 2, "hold_s": 30, "wait_s": 0.1}
    with model_slot(endpoint, tenant="a", **hold), model_slot(endpoint, tenant="a", **hold):
        with pytest.raises(NoSlot):  # a's share is taken
            with model_slot(endpoint, tenant="a", **hold):
                pass
        with model_slot(endpoint, tenant="b", **hold):
            with pytest.raises(NoSlot):  # b has a slot left of its share, but the endpoint is full
                with model_slot(endpoint, tenant="b", **hold):
                    pass
    with model_slot(endpoint, tenant="b", **hold), model_slot(endpoint, tenant="b", **hold):
        pass  # all released


def test_the_tenant_share_defaults_to_half_the_cap(settings) -> None:
    settings.LLM_MAX_CONCURRENCY, settings.LLM_MAX_CONCURRENCY_PER_TENANT = 4, 0
    assert tenant_slot_limit() == 2
    settings.LLM_MAX_CONCURRENCY = 1
    assert tenant_slot_limit() == 1
    settings.LLM_MAX_CONCURRENCY, settings.LLM_MAX_CONCURRENCY_PER_TENANT = 4, 9
    assert tenant_slot_limit() == 4  # never more than the whole cap


def test_a_tenants_timeout_is_held_to_one_to_thirty_seconds(tenant_a, settings) -> None:
    for bad in (0.001, 0.5, 30.5, 3600):
        with pytest.raises(ValidationError) as raised:
            Endpoint(mode=Endpoint.Mode.OPERATOR, timeout_s=bad).full_clean()
        assert "timeout_s" in raised.value.message_dict
    Endpoint(mode=Endpoint.Mode.OPERATOR, timeout_s=30).full_clean()
    Endpoint(mode=Endpoint.Mode.OPERATOR, timeout_s=None).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.create(mode=Endpoint.Mode.OPERATOR, timeout_s=3600)
    # At call time too, whatever the row says.
    assert (tenant_timeout(3600), tenant_timeout(0.01), tenant_timeout(12)) == (30.0, 1.0, 12.0)
    settings.LLM_TIMEOUT = 7
    assert tenant_timeout(None) == 7.0


def test_an_own_endpoints_timeout_is_clamped_when_called(tenant_a, settings) -> None:
    from llm.client import endpoint_config
    from llm.secrets import secret_encrypt

    settings.LLM_ALLOWED_BASE_URLS = ["https://llm.example.org/v1"]
    Endpoint.objects.create(
        mode=Endpoint.Mode.OWN,
        base_url="https://llm.example.org/v1",
        model="m",
        api_key_encrypted=secret_encrypt("k"),
        timeout_s=30,
    )
    assert endpoint_config(ModelCall.Purpose.CLASSIFY).timeout == 30.0
