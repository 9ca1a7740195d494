"""The shipped translations: the committed .mo says what its .po says, every string of the
resident pages has a Spanish translation, and translations keep their placeholders.

The .mo files are committed (GNU gettext is needed only by translators, `make messages`),
so a fresh machine, `make test` and the Docker image need no msgfmt; these tests catch a
.po edited without recompiling, and a template string added without its translation."""

import re
from ast import literal_eval
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation.template import templatize

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# What residents see (the staff console's templates stay in English: docs/languages.md).
RESIDENT_TEMPLATES = [
    *sorted((Path(settings.BASE_DIR) / "templates" / "reports").glob("*.html")),
    *sorted((Path(settings.BASE_DIR) / "templates" / "tenants").glob("*.html")),
    Path(settings.BASE_DIR) / "templates" / "analytics" / "accountability.html",
    Path(settings.BASE_DIR) / "templates" / "base.html",
    Path(settings.BASE_DIR) / "templates" / "lockout.html",
]
# The gettext calls templatize writes for {% translate %} and {% blocktranslate %}.
_CALL = re.compile(r"\b(n?)gettext\((u'(?:[^'\\]|\\.)*')(?:, (u'(?:[^'\\]|\\.)*'))?")
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[sdif]")


def _catalog(code: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / code / "LC_MESSAGES" / "django.po"))


def _template_msgids(path: Path) -> set[str]:
    text = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    return {literal_eval(match.group(2)) for match in _CALL.finditer(text)}


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_committed_mo_is_compiled_from_the_po(code: str) -> None:
    po = _catalog(code)
    mo = polib.mofile(str(LOCALE / code / "LC_MESSAGES" / "django.mo"))
    expected = {
        (e.msgid, e.msgid_plural): e.msgstr or tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural))
        for e in po.translated_entries()
    }
    compiled = {
        (e.msgid, e.msgid_plural): e.msgstr or tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural))
        for e in mo
        if e.msgid
    }
    assert compiled == expected, "run `make messages` (or manage.py compilemessages) and commit the .mo"
    assert "nplurals=2" in mo.metadata.get("Plural-Forms", "")


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_string_is_translated_with_its_placeholders(code: str) -> None:
    po = _catalog(code)
    assert not po.fuzzy_entries() and not po.untranslated_entries(), [
        e.msgid for e in po.fuzzy_entries() + po.untranslated_entries()
    ]
    for entry in po.translated_entries():
        translations = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        wanted = set(_PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in translations:
            assert set(_PLACEHOLDER.findall(text)) <= wanted | set(_PLACEHOLDER.findall(entry.msgid)), (
                entry.msgid
            )


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_resident_template_string_has_a_translation(code: str) -> None:
    known = {e.msgid for e in _catalog(code).translated_entries()}
    missing = {
        f"{path.name}: {msgid}" for path in RESIDENT_TEMPLATES for msgid in _template_msgids(path) - known
    }
    assert not missing, "run `make messages` and translate: " + "; ".join(sorted(missing))
