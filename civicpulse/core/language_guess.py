"""Whether a resident's text reads as Spanish, the one language besides English that the
resident pages speak (docs/languages.md). A guess from Spanish letters and a few frequent
words, with no model: enough to choose which starter examples a report is compared with,
and whether a report and an issue are written in two languages (grouping compares those
on their category: issues.match_score). Place names do not count: capitalised words after
the first, and the particles between them ("Pothole on Via de la Valle" is English).
"""

import re

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
# Lowercase words that join the parts of a name ("Via de la Valle", "Paseo del Mar").
_NAME_PARTICLES = frozenset("de del la las los el y".split())


def looks_spanish(text: str) -> bool:
    """A Spanish letter; or Spanish words making a fifth of the text's words, at least
    two, or one in a text of five words or fewer ("poste de luz apagado"). Names are not
    counted, unless the text is all capitals: capitalised words after the first ("Pothole
    La Jolla" is English), and the particles between two capitalised words ("Pothole on
    Via de la Valle")."""
    if _SPANISH_LETTERS.search(text.lower()):
        return True
    words = _WORD.findall(text)
    if not text.isupper():
        words = _without_names(words)
    hits = sum(word.lower() in _SPANISH_WORDS for word in words)
    return (hits >= 2 and hits >= 0.2 * len(words)) or (hits == 1 and len(words) <= 5)


def _without_names(words: list[str]) -> list[str]:
    """The words but those of names after the first word: capitalised ones, and particles
    whose nearest other words either side are capitalised. One pass each way, so a long
    text costs time in proportion to its length."""
    particle = [word.lower() in _NAME_PARTICLES for word in words]
    capital = [word[:1].isupper() for word in words]
    # Whether the nearest word that is not a particle, before / after each word, is capitalised.
    before, after = [False] * len(words), [False] * len(words)
    for index in range(1, len(words)):
        before[index] = before[index - 1] if particle[index - 1] else capital[index - 1]
    for index in range(len(words) - 2, -1, -1):
        after[index] = after[index + 1] if particle[index + 1] else capital[index + 1]
    return words[:1] + [
        word
        for index, word in enumerate(words)
        if index and not capital[index] and not (particle[index] and before[index] and after[index])
    ]
