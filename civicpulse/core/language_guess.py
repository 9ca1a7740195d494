"""Which language a resident's text is in, the resident pages speaking English and
Spanish (docs/languages.md). Guesses from Spanish letters and a few frequent words, with
no model:

- `looks_spanish`, lenient, chooses which starter examples a report is compared with. An
  English text naming a street with its particles ("Via de la Valle") may pass for
  Spanish: that adds the Spanish examples to the English ones it is compared with, and
  keeps it from a learned model that has seen too few Spanish reports.
- `text_language`, strict, tells grouping whether a report and an issue are written in two
  languages (issues.match_score.compared). A wrong "two languages" could join unrelated
  reports, so it answers only when the words say so, and leaves names out whatever their
  case.
"""

import re
import unicodedata

_SPANISH_LETTERS = re.compile(r"[áéíóúñ¿¡]")
_WORD = re.compile(r"\w+")
# Frequent Spanish words that are not English words ("a", "no" and "y" are left out),
# and the nouns and participles residents' reports are made of, for the many reports
# of two or three words ("basura tirada", "carro abandonado").
_SPANISH_WORDS = frozenset(
    "el la los las del de en un una unos unas que hay está están esta estan por para con se "
    "muy mi sin pero como cuando donde desde hace frente tiene "
    "calle calles basura basurero banqueta banquetas acera aceras carro coche camioneta "
    "bache baches hoyo hoyos ruido fiesta musica luz foco focos lampara alumbrado publico "
    "agua fuga tuberia drenaje coladera alcantarilla inundacion arbol arboles rama ramas "
    "perro gato vecino vecinos esquina cuadra parque juegos poste semaforo semaforos llantas "
    "muebles sillon colchon escombro grande "
    "tirada tirado tiradas tirados tiraron roto rota rotos rotas caido caida caidos caidas "
    "muerto muerta fundido fundida ruidoso ruidosa inundada inundado tapada tapado "
    "abandonado abandonada abandonados abandonadas estacionado estacionada".split()
)


def looks_spanish(text: str) -> bool:
    """A Spanish letter; or Spanish words making a fifth of the text's words, at least
    two, or one in a text of five words or fewer ("poste de luz apagado"). Capitalised
    words after the first are names and are not counted ("Pothole La Jolla" is English),
    unless the text is all capitals. The share keeps long English reports on "Via de la
    Valle" English."""
    if _SPANISH_LETTERS.search(text.lower()):
        return True
    words = _WORD.findall(text)
    if not text.isupper():
        words = words[:1] + [word for word in words[1:] if not word[:1].isupper()]
    hits = sum(word.lower() in _SPANISH_WORDS for word in words)
    return (hits >= 2 and hits >= 0.2 * len(words)) or (hits == 1 and len(words) <= 5)


# The particles of names ("Via de la Valle", "El Cajon Blvd") and the words streets are
# named with ("Calle Serena", "Avenida Fiesta"), never counted by the strict guess: too
# often part of an address in an English report.
_PARTICLES = frozenset("de del la las los el y calle avenida camino paseo via plaza".split())


def _plain(word: str) -> str:
    """The word without its accents ("semáforo": "semaforo")."""
    return word if word.isascii() else unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


_SPANISH_EVIDENCE = frozenset(_plain(word) for word in _SPANISH_WORDS) - _PARTICLES
# Frequent English words, and those residents' reports are made of: a text is known to be
# English only when it has some ("Pothole", "Dog barking all night"; not "Via Valle 12").
_ENGLISH_EVIDENCE = frozenset(
    "the an is are was were be been it its this that these there here on in at of to and or for "
    "with from by near next my our your their not has have had will can please very all into over "
    "under out off behind across front "
    "street road lane alley sidewalk curb corner block light lights lamp pole pothole potholes "
    "hole holes trash garbage litter dumped dumping graffiti tree trees branch water leak leaking "
    "flooded flooding broken missing damaged car cars vehicle truck parked parking abandoned noise "
    "loud music party dog dogs barking sign signal traffic stop park grass weeds big large huge".split()
)


def text_language(text: str) -> str:
    """ "es" or "en" when the text's own words say so, else "" (names and numbers alone, a
    mix, too little). Names are left out: the capitalised words after the first, and the
    first when the next word but particles is capitalised ("Rancho Peñasquitos pothole"),
    unless every word is in capitals or capitalised; the particles of names never count,
    in any case. Spanish: two Spanish words, more than English ones, or one in a text of
    at most three words with no English word ("bache grande"; not a title of capitalised
    words, which may be a name, unless it is one word: "Bache"). English: an English word
    and no Spanish one."""
    words = _WORD.findall(text)
    one_word = len(words) == 1
    # Written in capitals, or every word capitalised ("Street Light Out"): names cannot be
    # told from the rest, and the whole text is read.
    read_whole = all(word[:1].isupper() or word[:1].isdigit() or word.lower() in _PARTICLES for word in words)
    if not read_whole:
        named = [index > 0 and word[:1].isupper() for index, word in enumerate(words)]
        following = next((word for word in words[1:] if word.lower() not in _PARTICLES), "")
        named[0] = words[0][:1].isupper() and following[:1].isupper()
        words = [word for word, name in zip(words, named, strict=True) if not name]
    lowered = [word.lower() for word in words]
    plain = [_plain(word) for word in lowered if word not in _PARTICLES]
    spanish = sum(word in _SPANISH_EVIDENCE for word in plain)
    english = sum(word in _ENGLISH_EVIDENCE for word in plain)
    # One Spanish word is enough in a report of a few words ("bache grande"), not in a
    # title of several capitalised ones, which may be a name ("Agua Hedionda").
    few_words = len(plain) <= 3 and (one_word or not read_whole)
    if (spanish >= 2 and spanish > english) or (spanish == 1 and not english and few_words):
        return "es"
    return "en" if english and not spanish else ""
