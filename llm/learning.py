"""The offline classifier that learns from staff corrections.

Every staff correction is a TrainingExample. Once a tenant has enough of them,
`classifier_train` fits a text model (llm.text_model: words, character n-grams and the
embedding, then logistic regression) for the category and, when staff have corrected
enough severities, a second one for severity, and stores it as a new TrainedClassifier
version in the tenant's schema, as plain numbers.
"""

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from civicpulse.core.kept import PerTenant
from civicpulse.core.language_guess import looks_spanish
from civicpulse.core.tenancy import current_schema
from llm.models import TrainedClassifier, TrainingExample
from llm.offline import rule_severity, summarise
from llm.text_model import PARAMETERS_FORMAT, TextModel, predict_many, text_model_fit
from llm.types import SEVERITIES, CategoryInfo, Classification

# Fewer examples than this are not worth cross-validating: five folds of a handful of
# texts say nothing reliable about accuracy.
CROSS_VALIDATION_MIN_EXAMPLES = 30
_FOLDS = 5


def classification_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-averaged F1 (each label present in either list weighs the same;
    a label never predicted nor true does not count). An empty prediction (a classifier
    that named no category) is wrong for its text's label and is no label of its own."""
    from sklearn.metrics import accuracy_score, f1_score

    labels = sorted(set(truth) | {p for p in predicted if p})
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 3),
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 3
        ),
    }


def _cross_validated(texts: list[str], labels: list[str]) -> dict:
    """How the model does on examples it was not fitted on, through the same fitting and
    prediction code as the stored model."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if len(texts) < CROSS_VALIDATION_MIN_EXAMPLES:
        return {"method": f"none: fewer than {CROSS_VALIDATION_MIN_EXAMPLES} examples to cross-validate"}
    # Stratified folds need every label at least once per fold; rarer labels fall back to
    # plain shuffled folds (a fold may then lack a label, which only costs that label).
    stratify = min(Counter(labels).values()) >= _FOLDS
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=_FOLDS, shuffle=True, random_state=0)
    truth: list[str] = []
    predicted: list[str] = []
    for train, test in splitter.split(texts, labels):
        train_labels = [labels[i] for i in train]
        if len(set(train_labels)) < 2:
            continue
        parameters = text_model_fit([texts[i] for i in train], train_labels)
        truth += [labels[i] for i in test]
        predicted += predict_many(parameters, [texts[i] for i in test])
    if not truth:
        return {"method": "none: no fold had two categories to learn"}
    return {"method": f"{_FOLDS}-fold cross-validation", **classification_scores(truth, predicted)}


def _claim_training() -> bool:
    """One training per tenant at a time (two beat runs, or beat and an operator): the
    second finds the lock taken and leaves instead of fitting the same model again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext('llm.classifier_train'), hashtext(%s))",
            [current_schema()],
        )
        return bool(cursor.fetchone()[0])


def classifier_train(*, min_examples: int | None = None) -> TrainedClassifier | None:
    """Train a new version of the current tenant's classifier from its staff corrections.

    None when there is nothing to learn yet (fewer than `min_examples` corrections with a
    category, default CLASSIFIER_MIN_EXAMPLES, or a single category among them), when no
    correction was added or changed since the latest version, or when another training
    of this tenant is running."""
    minimum = settings.CLASSIFIER_MIN_EXAMPLES if min_examples is None else min_examples
    with transaction.atomic():
        if not _claim_training():
            return None
        # Taken before the examples are read and stored as the version's time: a
        # correction saved while this one fits is newer than the version, so the next
        # run picks it up.
        started = timezone.now()
        latest = TrainedClassifier.objects.order_by("-version").first()
        rows = list(
            TrainingExample.objects.order_by("pk").values_list("text", "category", "severity", "updated_at")
        )
        by_category = [(text, category) for text, category, _, _ in rows if category]
        if len(by_category) < minimum or len({category for _, category in by_category}) < 2:
            return None
        newest = max(updated_at for *_, updated_at in rows)
        if latest is not None and latest.examples == len(by_category) and newest <= latest.created_at:
            return None

        texts, labels = [t for t, _ in by_category], [c for _, c in by_category]
        parameters: dict = {
            "format": PARAMETERS_FORMAT,
            "category": text_model_fit(texts, labels),
            "severity": None,
        }
        metrics: dict = {"category": _cross_validated(texts, labels)}
        by_severity = [(text, severity) for text, _, severity, _ in rows if severity in SEVERITIES]
        if len(by_severity) >= minimum and len({severity for _, severity in by_severity}) >= 2:
            severity_texts, severities = [t for t, _ in by_severity], [s for _, s in by_severity]
            parameters["severity"] = text_model_fit(severity_texts, severities)
            metrics["severity"] = _cross_validated(severity_texts, severities)
        metrics["severity_examples"] = len(by_severity)

        trained = TrainedClassifier.objects.create(
            version=(latest.version if latest else 0) + 1,
            created_at=started,
            examples=len(by_category),
            labels=parameters["category"]["classes"],
            parameters=parameters,
            metrics=metrics,
        )
    return trained


@dataclass(frozen=True)
class LearnedClassifier:
    """A stored version (or a throwaway one the evaluation fits) ready to classify."""

    version: int
    category: TextModel
    severity: TextModel | None
    # Cross-validated accuracy of the category model; None when it had too few examples.
    accuracy: float | None = None

    @classmethod
    def from_parameters(
        cls, parameters: dict, version: int, accuracy: float | None = None
    ) -> "LearnedClassifier":
        severity = parameters.get("severity")
        return cls(
            accuracy=accuracy,
            version=version,
            category=TextModel.from_parameters(parameters["category"]),
            severity=TextModel.from_parameters(severity) if severity else None,
        )

    def classify(self, text: str, categories: list[CategoryInfo]) -> Classification | None:
        """The category among `categories` only, or None when the model knows none of them
        or no word of the text (it could only guess the most common category), or when
        the text reads as Spanish and the model learned from fewer than
        CLASSIFIER_MIN_EXAMPLES Spanish reports. One fitted on English corrections sorts
        Spanish reports hardly better than chance, with a confidence that keeps them off
        the review list; the untrained path answers them instead (in a city, with its
        Spanish starter examples)."""
        model = self.category
        by_code = {c.code: c for c in categories}
        allowed = [i for i, code in enumerate(model.classes) if code in by_code]
        if not allowed or not model.knows(text):
            return None
        if model.spanish_texts < settings.CLASSIFIER_MIN_EXAMPLES and looks_spanish(text):
            return None
        # Categories the tenant no longer offers give their share to the ones it does.
        probabilities = model.probabilities(text)[allowed]
        probabilities = probabilities / probabilities.sum()
        best = int(np.argmax(probabilities))
        category = model.classes[allowed[best]]

        # The rules' severity: the category's default, raised by danger words.
        ruled = rule_severity(text, by_code[category])
        severity = ruled
        if self.severity is not None and self.severity.knows(text):
            suggested = self.severity.predict(text)
            # Learned from staff, but a text the rules call high or critical (fire, gas, a
            # hazard) is never learned down below that.
            if SEVERITIES.index(ruled) >= SEVERITIES.index("high"):
                severity = max(suggested, ruled, key=SEVERITIES.index)
            else:
                severity = suggested
        return Classification(
            category=category,
            severity=severity,
            summary=summarise(text),
            confidence=round(float(probabilities[best]), 3),
            classifier=f"offline-learned-v{self.version}",
        )


# The latest model of each schema this process has used, under the identity of its row (a
# new version replaces the old; the row's id and time, not only its version number, because
# a deleted version's number is given again to the next training), least recently used
# first. Within CLASSIFIER_MODELS_CACHE_MB, so a worker serving hundreds of trained tenants
# keeps its memory: a city's model (ten categories, 5,000 corrections) holds 4.2 MB, one
# with a hundred categories 19 MB. A model that dropped out is read from its row again:
# 0.2 s for the city's, 2 s for the largest.
_models: OrderedDict[str, tuple[tuple[int, datetime], LearnedClassifier, int]] = OrderedDict()
_models_lock = threading.Lock()
# One load per schema at a time: the io worker's threads missing together (a new version,
# an eviction) would each parse the parameters, tens of MB apiece for the largest models.
_loading: dict[str, threading.Lock] = {}


def _latest_row() -> tuple[int, datetime, int, dict] | None:
    return (
        TrainedClassifier.objects.order_by("-version")
        .values_list("pk", "created_at", "version", "metrics")
        .first()
    )


# Which row is the tenant's latest model, asked for by every batch of reports: kept by each
# process for SETUP_CACHE_SECONDS, so a new model is used within that time of its training.
_latest_row_kept = PerTenant(_latest_row, seconds_setting="SETUP_CACHE_SECONDS")


def _latest_model() -> LearnedClassifier | None:
    """The current schema's latest model: which row that is (kept a few seconds), and its
    parameters only when this process does not hold that row's model."""
    schema = current_schema()
    latest = _latest_row_kept()
    if latest is None:
        return None
    pk, created_at, version, metrics = latest
    identity = (pk, created_at)
    held = _model_held(schema, identity)
    if held is not None:
        return held
    with _models_lock:
        loading = _loading.setdefault(schema, threading.Lock())
    with loading:
        held = _model_held(schema, identity)  # read by the thread this one waited for
        if held is not None:
            return held
        parameters = TrainedClassifier.objects.filter(pk=pk).values_list("parameters", flat=True).first()
        if parameters is None:
            return None  # deleted in between
        learned = LearnedClassifier.from_parameters(
            parameters, version, (metrics.get("category") or {}).get("accuracy")
        )
        _model_keep(schema, identity, learned)
        return learned


def _model_held(schema: str, identity: tuple[int, datetime]) -> LearnedClassifier | None:
    """The schema's model this process holds, when it is that row's: it becomes the most
    recently used."""
    with _models_lock:
        held = _models.get(schema)
        if held is None or held[0] != identity:
            return None
        _models.move_to_end(schema)
        return held[1]


def _model_keep(schema: str, identity: tuple[int, datetime], learned: LearnedClassifier) -> None:
    """Hold the schema's model, dropping the least recently used others while all of them
    take more than the budget (the one just read stays, whatever its size)."""
    size = learned.category.footprint() + (learned.severity.footprint() if learned.severity else 0)
    budget = settings.CLASSIFIER_MODELS_CACHE_MB * 1024 * 1024
    with _models_lock:
        _models[schema] = (identity, learned, size)
        _models.move_to_end(schema)
        held = sum(entry[2] for entry in _models.values())
        while held > budget and len(_models) > 1:
            held -= _models.popitem(last=False)[1][2]


def classify_learned(text: str, categories: list[CategoryInfo]) -> Classification | None:
    """Classify with the current tenant's latest learned model, among `categories` only.
    None when the tenant has no model yet, when its cross-validated accuracy is below
    CLASSIFIER_MIN_ACCURACY (or unknown), when it knows none of these categories, or when
    the text has no word it has seen: the keyword classifier answers then."""
    if not categories:
        return None
    learned = learned_model_trusted()
    return None if learned is None else learned.classify(text, categories)


def learned_model_trusted() -> LearnedClassifier | None:
    """The current tenant's latest learned model, when it is good enough to be used."""
    learned = _latest_model()
    if learned is None:
        return None
    # A model is trusted only once it has shown, on corrections it was not fitted on, that
    # it does well: a few dozen examples can do worse than the categories' own keywords.
    minimum = settings.CLASSIFIER_MIN_ACCURACY
    if minimum > 0 and (learned.accuracy is None or learned.accuracy < minimum):
        return None
    return learned
