"""Whether a resident's text reads as Spanish, the one language besides English that the
resident pages speak (docs/languages.md). A guess from Spanish letters and a few frequent
words, with no model: enough to choose which starter examples a report is compared with.
An English text naming a street with its particles ("Via de la Valle") may pass for
Spanish: that adds the Spanish examples to the English ones it is compared with, and keeps
it from a learned model that has seen too few Spanish reports."""

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
