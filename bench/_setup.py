"""Make a benchmark script runnable as `.venv/bin/python bench/NAME.py` from the checkout."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpulse.settings.dev")
    import django

    django.setup()


def figure(name: str, value: object) -> None:
    """One `name: value` line per figure, the format every benchmark prints."""
    print(f"{name}: {value}", flush=True)
