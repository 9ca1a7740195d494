"""What meaning costs a worker: the memory the embedding model takes once loaded, and the
time per report of classification (the cold start and a learned model) with the
embedding grouping compares, as the io worker does them.

    .venv/bin/python bench/semantic.py [--reports 2000] [--train 3000]

Needs no database: the categories are a city's defaults with their starter examples, the
reports and the training rows come from bench/labelled_reports.py's generator. Prints
`model_rss_mb` (resident memory added by loading the model), `prior_p95_ms` (cold-start
classification plus the embedding kept for grouping), `learned_p95_ms` (the same with a
model trained on `--train` rows), and their medians.
"""

import argparse
import resource
import time

from _setup import django_setup, figure, percentile


def _rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--train", type=int, default=3000)
    args = parser.parse_args()
    django_setup()
    from labelled_reports import labelled_rows

    from issues.defaults import CATEGORIES_BY_KIND
    from issues.starter_examples import starter_examples
    from llm import embeddings
    from llm.learning import LearnedClassifier
    from llm.services import classify_untrained
    from llm.text_model import TextModel, text_model_fit
    from llm.types import CategoryInfo

    categories = [
        CategoryInfo(
            c.code, c.name, c.description, c.keywords, c.severity, starter_examples("city").get(c.code, ())
        )
        for c in CATEGORIES_BY_KIND["city"]
    ]
    before = _rss_mb()
    embeddings.embed(["warm up"])
    figure("model_rss_mb", round(_rss_mb() - before, 1))

    texts = [row["text"] for row in labelled_rows(args.reports, seed=11)]
    classify_untrained(texts[0], categories)  # the categories' vectors, once per process
    timings = []
    for text in texts:
        started = time.perf_counter()
        classify_untrained(text, categories)
        embeddings.embed_stored(text)
        timings.append((time.perf_counter() - started) * 1000)
    figure("prior_p50_ms", round(percentile(timings, 0.5) or 0, 3))
    figure("prior_p95_ms", round(percentile(timings, 0.95) or 0, 3))

    training = labelled_rows(args.train, seed=5)
    codes = {c.name.lower(): c.code for c in categories}
    parameters = text_model_fit(
        [r["text"] for r in training], [codes.get(r["category"].lower(), "other") for r in training]
    )
    learned = LearnedClassifier(version=1, category=TextModel.from_parameters(parameters), severity=None)
    timings = []
    for text in texts:
        started = time.perf_counter()
        learned.classify(text, categories)
        embeddings.embed_stored(text)
        timings.append((time.perf_counter() - started) * 1000)
    figure("learned_p50_ms", round(percentile(timings, 0.5) or 0, 3))
    figure("learned_p95_ms", round(percentile(timings, 0.95) or 0, 3))
    figure("process_rss_mb", round(_rss_mb(), 1))


if __name__ == "__main__":
    main()
