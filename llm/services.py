"""The one entry point other apps call to classify a report's text."""
from llm.offline import classify_offline
from llm.types import CategoryInfo, Classification


def classify_report(*, text: str, categories: list[CategoryInfo]) -> Classification:
    """Classify with the configured classifier. Today that is the offline one; a language
    model plugs in here, its answer validated against `categories`, with this as fallback."""
    return classify_offline(text, categories)
