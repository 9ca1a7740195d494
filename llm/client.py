"""Any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp's server), asked
for one JSON object that must validate against a JSON schema.

Which endpoint: the tenant's own when it chose one (on the operator's allow-list), else
the operator's (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY, LLM_TIMEOUT), else none. Every call
is audited in the tenant's schema (ModelCall); at most LLM_MAX_CONCURRENCY calls per
endpoint are in flight across all workers, at most LLM_MAX_CONCURRENCY_PER_TENANT of them
for one tenant; the circuit breaker is kept per endpoint and tenant; timeouts, 429s, 5xx and dropped connections
are retried with backoff, then reported as a ModelFault for the caller to fall back.
"""

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import jsonschema
import openai
from django.conf import settings
from openai.types.chat import ChatCompletion

from civicpulse.core.kept import PerTenant
from civicpulse.core.tenancy import current_schema
from llm.limiter import NoSlot, circuit_open, circuit_record_fault, model_slot
from llm.models import TIMEOUT_MAX_S, TIMEOUT_MIN_S, Endpoint, ModelCall
from llm.secrets import secret_decrypt

logger = logging.getLogger(__name__)
Outcome = ModelCall.Outcome


class ModelFault(Exception):
    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(f"{outcome}: {detail}" if detail else outcome)
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key: str
    timeout: float
    source: str  # "operator" or "tenant"

    @property
    def endpoint(self) -> str:
        """Scheme, host and port: what the audit log and the concurrency limit key on."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or _DEFAULT_PORTS.get(parts.scheme, '')}"


_DEFAULT_PORTS = {"http": 80, "https": 443}
# Faults that say the endpoint is down or overloaded (not that this request was wrong).
_TRANSIENT = frozenset({Outcome.TIMEOUT, Outcome.SERVER_ERROR, Outcome.UNAVAILABLE})


def _origin(url: str) -> tuple[str, str, int | None, str] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    # "/v1/../admin" starts with "/v1/" but the HTTP client resolves it to "/admin": refuse
    # dot segments, plain or percent-encoded, and anything else encoded in the path.
    if "%" in parts.path or any(segment in (".", "..") for segment in parts.path.split("/")):
        return None
    return parts.scheme, parts.hostname.lower(), port, parts.path.rstrip("/")


def base_url_allowed(url: str) -> bool:
    """Whether a tenant may use this base URL: scheme, host and port equal to an entry of
    LLM_ALLOWED_BASE_URLS and its path under that entry's path. No user-info tricks."""
    wanted = _origin(url)
    if wanted is None:
        return False
    for allowed in settings.LLM_ALLOWED_BASE_URLS:
        entry = _origin(allowed)
        if entry is None or wanted[:3] != entry[:3]:
            continue
        if wanted[3] == entry[3] or wanted[3].startswith(entry[3] + "/"):
            return True
    return False


def _endpoint_read() -> Endpoint | None:
    return Endpoint.objects.first()


# The tenant's endpoint row, asked for by every batch of reports: kept by each process for
# SETUP_CACHE_SECONDS (a change applies within that time). Read, never changed.
endpoint_kept = PerTenant(_endpoint_read, seconds_setting="SETUP_CACHE_SECONDS")


def endpoint_config(purpose: str) -> EndpointConfig | None:
    """The endpoint to ask for `purpose` (a ModelCall.Purpose) in the current tenant, or
    None: the offline classifier answers alone."""
    choice = endpoint_kept()
    if choice is not None:
        if choice.mode == Endpoint.Mode.OFF:
            return None
        # Classification and adjudication can each be switched off; the narrative of a
        # location report follows the mode alone.
        switches: dict[str, bool] = {
            ModelCall.Purpose.CLASSIFY: choice.classify,
            ModelCall.Purpose.ADJUDICATE: choice.adjudicate,
        }
        if not switches.get(purpose, True):
            return None
        if choice.mode == Endpoint.Mode.OWN:
            # Checked again at every call: the operator may have narrowed the list since.
            if not base_url_allowed(choice.base_url):
                logger.warning(
                    "tenant model endpoint not on the allow-list", extra={"endpoint": choice.base_url}
                )
                return None
            return EndpointConfig(
                choice.base_url,
                choice.model,
                secret_decrypt(choice.api_key_encrypted),
                tenant_timeout(choice.timeout_s),
                "tenant",
            )
    if settings.LLM_BASE_URL and settings.LLM_MODEL:
        return EndpointConfig(
            settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY, settings.LLM_TIMEOUT, "operator"
        )
    return None


def tenant_timeout(timeout_s: float | None) -> float:
    """A tenant's own timeout, held to TIMEOUT_MIN_S..TIMEOUT_MAX_S even if a row escaped
    the model's validation; empty: the operator's."""
    if timeout_s is None:
        return float(settings.LLM_TIMEOUT)
    return min(max(float(timeout_s), TIMEOUT_MIN_S), TIMEOUT_MAX_S)


def tenant_slot_limit() -> int:
    """How many of an endpoint's LLM_MAX_CONCURRENCY slots one tenant may hold at once
    (LLM_MAX_CONCURRENCY_PER_TENANT; 0: half of them, rounded up), never more than all."""
    share = settings.LLM_MAX_CONCURRENCY_PER_TENANT or -(-settings.LLM_MAX_CONCURRENCY // 2)
    return max(1, min(share, settings.LLM_MAX_CONCURRENCY))


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None


def _answer(response: ChatCompletion, schema: dict) -> dict:
    try:
        content = (response.choices[0].message.content or "").strip()
    except (AttributeError, IndexError) as exc:
        raise ModelFault(Outcome.INVALID, "no message in the answer") from exc
    # Some local models wrap the object in a Markdown code fence even when asked not to.
    if content.startswith("```"):
        content = content.strip("`").removeprefix("json").strip()
    try:
        answer = json.loads(content)
    except ValueError as exc:
        raise ModelFault(Outcome.INVALID, f"not JSON: {content[:80]!r}") from exc
    try:
        jsonschema.validate(answer, schema)
    except jsonschema.ValidationError as exc:
        raise ModelFault(Outcome.INVALID, f"outside the schema: {exc.message[:200]}") from exc
    return answer


def chat_json(
    config: EndpointConfig,
    *,
    purpose: str,
    system: str,
    user: str,
    schema: dict,
    max_tokens: int = 300,
    retries: int | None = None,
    slot_wait: float | None = None,
) -> dict:
    """Ask once (retrying transient faults up to `retries`, default LLM_RETRIES) for a JSON
    object matching `schema`; return it or raise ModelFault. The call is recorded in
    ModelCall either way."""
    prompt_sha256 = hashlib.sha256(json.dumps([config.model, system, user]).encode()).hexdigest()
    retries = settings.LLM_RETRIES if retries is None else retries
    # The slots and the breaker are the tenant's own on a shared endpoint (llm.limiter).
    tenant = current_schema()
    if circuit_open(config.endpoint, tenant=tenant):
        # Not a call: nothing to audit. The report's note says why the model was not used.
        raise ModelFault(
            Outcome.UNAVAILABLE, "circuit open after repeated faults; retrying the model shortly"
        )
    client = openai.OpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "unused",
        timeout=config.timeout,
        max_retries=0,
        # A redirect could lead anywhere: only the allowed address is ever asked.
        http_client=openai.DefaultHttpxClient(follow_redirects=False),
    )
    started = time.monotonic()
    attempts, usage = 0, None
    fault: ModelFault | None = ModelFault(Outcome.UNAVAILABLE)
    try:
        for attempt in range(retries + 1):
            attempts += 1
            wait = settings.LLM_RETRY_BACKOFF * 2**attempt * (1 + random.random() / 4)
            try:
                with model_slot(
                    config.endpoint,
                    tenant=tenant,
                    limit=settings.LLM_MAX_CONCURRENCY,
                    tenant_limit=tenant_slot_limit(),
                    hold_s=config.timeout + 5,
                    wait_s=settings.LLM_SLOT_WAIT if slot_wait is None else slot_wait,
                ):
                    response = client.chat.completions.create(
                        model=config.model,
                        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                        temperature=0,
                        max_tokens=max_tokens,
                        response_format={"type": "json_object"},
                    )
            except NoSlot as exc:
                fault = ModelFault(Outcome.BUSY, str(exc))
                break  # the slots are taken by calls that will take a while: do not queue up
            except openai.APITimeoutError:
                fault = ModelFault(Outcome.TIMEOUT, f"no answer within {config.timeout:g} s")
            except openai.APIConnectionError:
                fault = ModelFault(Outcome.UNAVAILABLE, "connection failed")
            except openai.RateLimitError as exc:
                fault = ModelFault(Outcome.RATE_LIMITED, "429")
                wait = max(wait, min(_retry_after(exc) or 0.0, settings.LLM_RETRY_MAX_WAIT))
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    # The status only: the server's text may echo the prompt or the key's account.
                    fault = ModelFault(Outcome.REFUSED, str(exc.status_code))
                    break  # a 4xx will not change by asking again
                fault = ModelFault(Outcome.SERVER_ERROR, str(exc.status_code))
            except openai.OpenAIError as exc:
                fault = ModelFault(Outcome.INVALID, type(exc).__name__)
                break  # an answer the client could not read: asking again gives the same
            else:
                usage = getattr(response, "usage", None)
                answer = _answer(response, schema)
                fault = None
                return answer
            if fault.outcome in _TRANSIENT and circuit_record_fault(config.endpoint, tenant=tenant):
                break  # the endpoint is down: no more retries either
            if attempt < retries:
                time.sleep(wait)
        # Every attempt failed (an answer returns above), so a fault is set.
        raise fault or ModelFault(Outcome.UNAVAILABLE)
    except ModelFault as exc:
        fault = exc
        raise
    finally:
        client.close()  # its connection pool, not kept from one call to the next
        ModelCall.objects.create(
            purpose=purpose,
            endpoint=config.endpoint[:200],
            model=config.model[:200],
            latency_ms=round((time.monotonic() - started) * 1000),
            attempts=attempts,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            outcome=fault.outcome if fault else Outcome.OK,
            detail=(fault.detail if fault else "")[:300],
            prompt_sha256=prompt_sha256,
        )
