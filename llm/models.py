"""What the classification app keeps in each tenant's schema: the tenant's own language
model endpoint (when it brings one), the audit log of every model call, the staff
corrections the offline classifier learns from, and the versions of what it learned."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# A tenant's own timeout, in seconds, is held to this range (model, database and at every
# call): a long one would hold a shared concurrency slot for that long, a tiny one would
# make every call a fault.
TIMEOUT_MIN_S, TIMEOUT_MAX_S = 1.0, 30.0


class Endpoint(models.Model):
    """The tenant's choice of language model: the operator's (the LLM_* environment), its
    own OpenAI-compatible endpoint, or none. One row per tenant."""

    class Mode(models.TextChoices):
        OPERATOR = "operator", "The operator's model, when one is configured"
        OWN = "own", "Our own endpoint"
        OFF = "off", "No language model: the offline classifier only"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.OPERATOR)
    base_url = models.URLField(
        blank=True,
        help_text="An OpenAI-compatible API root, e.g. https://llm.example.org/v1. "
        "It must be on the operator's allow-list (LLM_ALLOWED_BASE_URLS).",
    )
    model = models.CharField(max_length=200, blank=True)
    # Encrypted (llm.secrets); never shown again once saved.
    api_key_encrypted = models.TextField(blank=True, editable=False)
    timeout_s = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(TIMEOUT_MIN_S), MaxValueValidator(TIMEOUT_MAX_S)],
        help_text=f"Seconds, {TIMEOUT_MIN_S:g} to {TIMEOUT_MAX_S:g}; empty: the operator's default.",
    )
    classify = models.BooleanField(default=True, help_text="Ask the model for each report's category.")
    adjudicate = models.BooleanField(
        default=True,
        help_text="Ask the model whether a borderline report describes the same problem as an issue.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "language model"
        verbose_name_plural = "language model"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timeout_s__isnull=True)
                | models.Q(timeout_s__gte=TIMEOUT_MIN_S, timeout_s__lte=TIMEOUT_MAX_S),
                name="endpoint_timeout_bounded",
            )
        ]

    def __str__(self) -> str:
        return self.get_mode_display()

    def clean(self) -> None:
        from llm.client import base_url_allowed

        if self.mode == self.Mode.OWN:
            if not self.base_url or not self.model:
                raise ValidationError("Our own endpoint needs a base URL and a model name.")
            if not base_url_allowed(self.base_url):
                raise ValidationError(
                    {"base_url": "This address is not on the operator's allow-list for language models."}
                )


class ModelCall(models.Model):
    """One call to a language model: what for, which model, how long, how many tokens,
    how it ended. A hash of the prompt, never the prompt's secrets or the key."""

    class Purpose(models.TextChoices):
        CLASSIFY = "classify", "Classification"
        ADJUDICATE = "adjudicate", "Same-problem check"
        NARRATIVE = "narrative", "Location report narrative"

    class Outcome(models.TextChoices):
        OK = "ok", "Answered"
        INVALID = "invalid", "Answer rejected (not valid JSON or outside the schema)"
        TIMEOUT = "timeout", "Timed out"
        RATE_LIMITED = "rate_limited", "Rate limited (429)"
        SERVER_ERROR = "server_error", "Server error (5xx)"
        UNAVAILABLE = "unavailable", "Unreachable"
        REFUSED = "refused", "Request refused (4xx)"
        BUSY = "busy", "No free slot (concurrency limit)"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    endpoint = models.CharField(max_length=200, help_text="Scheme, host and port of the endpoint.")
    model = models.CharField(max_length=200)
    latency_ms = models.PositiveIntegerField()
    attempts = models.PositiveSmallIntegerField(default=1)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    prompt_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "model call"

    def __str__(self) -> str:
        return f"{self.purpose} {self.outcome} {self.created_at:%Y-%m-%d %H:%M}"


class TrainingExample(models.Model):
    """A staff correction: the text and the category (and severity) it should have had.
    One per source (a report's tracking id): a later correction replaces the earlier."""

    ref = models.CharField(max_length=100, unique=True)
    text = models.TextField()
    category = models.CharField(max_length=50, blank=True)
    severity = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.ref}: {self.category or '-'} / {self.severity or '-'}"


class TrainedClassifier(models.Model):
    """One version of the tenant's learned offline classifier, stored as plain numbers
    (vocabulary, weights) rather than a pickle, so any later version of the code can read
    and audit it."""

    version = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    examples = models.PositiveIntegerField()
    labels = models.JSONField(help_text="Category codes it can answer.")
    parameters = models.JSONField(help_text="Vocabulary, idf, coefficients and intercepts.")
    metrics = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version} ({self.examples} examples)"
