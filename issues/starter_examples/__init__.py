"""Short reports written by the team, per default category, the way residents and
occupants phrase problems. A new tenant has no corrections yet: these are what the
cold-start classifier compares a report with (beside each category's name and
description). They are copied onto each category when a tenant is created, so staff can
edit them in the console, and they stop mattering once the tenant's corrections train a
model. Keyed by category code: a code means the same thing for every kind that has it.
"""

from issues.starter_examples.city import CITY_EXAMPLES
from issues.starter_examples.city_es import CITY_EXAMPLES_ES
from issues.starter_examples.places import PLACE_EXAMPLES

# In English, for every kind (a code several kinds share, such as "other" and "noise",
# has the city's).
STARTER_EXAMPLES: dict[str, tuple[str, ...]] = {**CITY_EXAMPLES, **PLACE_EXAMPLES}
# A city's, in English and Spanish. Only a city has Spanish examples: given to one or two
# of a hotel's categories, they would draw every Spanish report there.
CITY_STARTER_EXAMPLES: dict[str, tuple[str, ...]] = {
    code: examples + CITY_EXAMPLES_ES.get(code, ()) for code, examples in CITY_EXAMPLES.items()
}


def starter_examples(kind: str) -> dict[str, tuple[str, ...]]:
    """The examples a new tenant of this kind gets, by category code."""
    return CITY_STARTER_EXAMPLES if kind == "city" else STARTER_EXAMPLES
