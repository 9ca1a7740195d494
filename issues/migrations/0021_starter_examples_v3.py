import hashlib
import json

from django.db import migrations

from issues.starter_examples import CITY_STARTER_EXAMPLES, STARTER_EXAMPLES

# The city categories' second starter examples, as migration 0020 left them: the SHA-256 of
# each list as JSON (`json.dumps(examples)`). A category whose examples still hash to this
# was never edited by its staff.
SECOND_EXAMPLES_SHA256: dict[str, str] = {
    "potholes": "3b363404e5eed9b643656b9f265a1c376bf834acb44b4b9d67f1b32f769068c2",
    "street_lights": "b49a6c53f796ddf9788e1f6a7b503d0016998d52d45ef1ea8e561e588e770379",
    "graffiti": "f7fe48681316ea378b14e2f6f843678bf9f1fce2cbe49a6121c51587fc637394",
    "sanitation": "1ae97f2f337f83c805480d58309f2192ca5698f105de0fe38dbaf17c3d974a60",
    "noise": "72826baf6d618351c183f59e2ace55dbf372789a0d5a90163081be8460fd7f2e",
    "trees_parks": "66033a37e8e89e097fa1b02328cbe57dbd216933d39d9e9ca38934db9c5c50c4",
    "water_sewer": "fefa6df8be4f5431e1f72c2a91a42e5be5a5d9917535540fb184ef4f5174b79c",
    "traffic_signals": "a6b2db363a22631b29a15e1635cc931a84d21d3f9b680dc7d53540f790e422a5",
    "abandoned_vehicles": "5057664136d75b963f0595490ee01c0ed3119b756abbbed077307517862a6be8",
    "sidewalks": "cb8b8999e2d34a6cff7c758e0e604663ce70e5e30ad7a95b77d29ed498886057",
    "other": "055798c1350f373b9a4fc1dc44f9c1bd6d3d581b92bbafbed0521c00163ccc6c",
}


def examples_hash(examples: list[str]) -> str:
    return hashlib.sha256(json.dumps(examples).encode()).hexdigest()


def renew_starter_examples(apps, schema_editor) -> None:
    """Categories whose examples are still the second starter set get the third: shared
    scooters and bikes by their operators' names and words, graffiti on street furniture,
    parking time limits, and in a city Spanish examples for every category (a schema
    with the city's potholes category is a city's: the tenant's kind is not in its
    schema). Examples staff have edited are left alone."""
    Category = apps.get_model("issues", "Category")
    third = CITY_STARTER_EXAMPLES if Category.objects.filter(code="potholes").exists() else STARTER_EXAMPLES
    for category in Category.objects.filter(code__in=list(SECOND_EXAMPLES_SHA256)).order_by("pk"):
        # Migrations 0016 and 0020 give the third set in English to a category holding none
        # or the first.
        unedited = {SECOND_EXAMPLES_SHA256[category.code], examples_hash(list(STARTER_EXAMPLES[category.code]))}
        if examples_hash(category.examples) in unedited:
            category.examples = list(third[category.code])
            category.save(update_fields=["examples"])


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0020_starter_examples_v2"),
    ]

    operations = [
        migrations.RunPython(renew_starter_examples, migrations.RunPython.noop),
    ]
