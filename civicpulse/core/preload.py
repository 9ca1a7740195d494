"""What a web process loads before it serves, so that it is frozen with the application
(gunicorn_conf.post_worker_init) rather than left for the garbage collector to walk.

Django imports the URLconfs (and with them every view module) at the first request, and
compiles a template at its first use. In a web process frozen before its first request
that left 25,000-31,000 objects for every full collection to walk: each took 10-27 ms of
CPU with the GIL held, most on a page's own thread, and during a photo flood the two web
processes ran 7-8 of them. Loaded here first (88 templates, 0.3 s and 9.5 MB a process,
most of it what the first requests would load anyway), about 5,000 are left, and the same
flood ran 2 (bench/photo_flood.py, docs/performance.md "Loaded before the freeze").

Templates loaded: those of the project's own template folders and the form renderer's
(every widget of every form), not every installed app's: the admin's and the browsable
API's would add about 6.5 MB more to each process, for pages few staff open."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.forms.renderers import get_default_renderer
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.backends.django import DjangoTemplates
from django.urls import get_resolver

TEMPLATE_SUFFIXES = (".html", ".txt")


def _template_names(folder: Path) -> list[str]:
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.suffix in TEMPLATE_SUFFIXES and path.is_file()
    )


def _own_templates_loaded(backend: DjangoTemplates) -> int:
    """Compile every template of a Django template backend's own folders (DIRS, not its
    apps'); return how many. A template the backend cannot compile is left for its first
    use to report, as it would have been."""
    loaded = 0
    for folder in backend.engine.dirs:
        for name in _template_names(Path(folder)):
            try:
                backend.get_template(name)
                loaded += 1
            except (TemplateDoesNotExist, TemplateSyntaxError):
                pass
    return loaded


def load_before_serving() -> int:
    """Import both URLconfs, compile the project's and the form renderer's templates and
    register Pillow's image formats; return how many templates were compiled."""
    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        # Its reverse table, built at the first reverse(), imports the URLconf and every
        # view module it names on the way.
        if not get_resolver(urlconf).reverse_dict:
            raise ImproperlyConfigured(f"{urlconf} names no URL")
    # The form renderer's engine is one of its own (Django's default renderer), or one of
    # the TEMPLATES engines (TemplatesSetting: no engine of its own).
    backends = [*engines.all(), getattr(get_default_renderer(), "engine", None)]
    loaded = sum(_own_templates_loaded(b) for b in backends if isinstance(b, DjangoTemplates))
    from PIL import Image

    Image.init()  # Pillow imports its format plugins at the first photo otherwise
    return loaded
