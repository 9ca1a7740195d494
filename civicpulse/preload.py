"""What a web process loads before it serves, so that it is frozen with the application
(gunicorn_conf.post_worker_init) rather than left for the garbage collector to walk.

Django imports the URLconfs (and with them every view module) at the first request, builds
each URLconf's reverse table at the first reverse() in each language, and compiles a
template at its first use. In a web process frozen before its first request that left
25,000-31,000 objects for every full collection to walk: each took 10-27 ms of CPU with
the GIL held, most on a page's own thread, and during a photo flood the two web processes
ran 7-8 of them. Loaded here first (88 templates; 0.3 s and 12 MB a process, most of it
what the first requests would load anyway), about 5,000 are left, and the same flood ran 2
(bench/photo_flood.py, docs/performance.md "Loaded before the freeze").

Templates compiled: every one in the project's own template folders (its pages, and its
overrides of some admin pages) and in the folders of the form renderer's own engine (every
widget of every form). Not every installed app's: the admin's and the browsable API's would
add about 6.5 MB more to each process, for pages few staff open. A template that cannot be
read or compiled is left for its first use to report, as it would have been."""

import logging
from pathlib import Path

from django.conf import settings
from django.forms.renderers import get_default_renderer
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.backends.django import DjangoTemplates
from django.urls import get_resolver
from django.utils import translation

logger = logging.getLogger(__name__)

TEMPLATE_SUFFIXES = (".html", ".txt")


def _template_names(folder: Path) -> list[str]:
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.suffix in TEMPLATE_SUFFIXES and path.is_file()
    )


def _own_templates_loaded(backend: DjangoTemplates) -> int:
    """Compile every template of a Django template backend's own folders (DIRS, not its
    apps'); return how many."""
    loaded = 0
    for folder in backend.engine.dirs:
        for name in _template_names(Path(folder)):
            try:
                backend.get_template(name)
                loaded += 1
            except (TemplateDoesNotExist, TemplateSyntaxError, UnicodeDecodeError, OSError) as exc:
                logger.warning("template %s not loaded before serving: %s", name, exc)
    return loaded


def load_before_serving() -> int:
    """Import the URLconfs and build their reverse tables in every language, compile the
    project's and the form renderer's templates; return how many templates were compiled.
    (Pillow is not among them: photos are opened by decoding processes, reports.photos.)"""
    urlconfs = dict.fromkeys([settings.ROOT_URLCONF, getattr(settings, "PUBLIC_SCHEMA_URLCONF", None)])
    for urlconf in filter(None, urlconfs):
        for code, _name in settings.LANGUAGES:  # a table per language, built at its first reverse()
            with translation.override(code):
                get_resolver(urlconf).reverse_dict  # noqa: B018 (read to be built)
    # The form renderer's engine, where it has one of its own (Django's default renderer;
    # TemplatesSetting renders with the TEMPLATES engines, whose apps' folders hold the
    # widgets: those are then compiled at first use).
    backends = [*engines.all(), getattr(get_default_renderer(), "engine", None)]
    return sum(_own_templates_loaded(b) for b in backends if isinstance(b, DjangoTemplates))
