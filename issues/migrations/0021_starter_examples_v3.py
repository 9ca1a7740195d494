from django.db import migrations

from issues.starter_examples import STARTER_EXAMPLES

# The starter examples of the categories this migration renews, as migration 0020 left
# them (frozen here): a category still holding exactly these was never edited by its staff.
SECOND_EXAMPLES: dict[str, list[str]] = {
    "abandoned_vehicles": [
        "Car has not moved in weeks",
        "Abandoned vehicle parked on the street",
        "Vehicle with flat tires parked for a month",
        "RV parked here for over 72 hours",
        "Car with expired plates hasn't moved",
        "Derelict car left on the street",
        "Truck parked in the same spot for two weeks",
        "Broken down van abandoned",
        "abandoned car",
        "vehicle parked over 72 hours",
        "car hasn't moved",
        "trailer parked on the street",
        "boat trailer parked for months",
        "car with flat tires",
        "expired registration",
        "car with no plates",
        "car covered in dust",
        "junk car",
        "camper parked a long time",
        "same car parked for a month",
        "van hasn't moved",
        "abandon vehicle",
        "abandonded car",
        "car sitting for 2 weeks",
    ],
    "graffiti": [
        "Graffiti",
        "Graffiti on the wall",
        "grafitti",
        "graffitti on fence",
        "tagging",
        "tags on the wall",
        "Someone spray painted tags on the fence",
        "Graffiti on the utility box",
        "graffiti on a sign",
        "Tagging on the bridge and the signs",
        "Vandalism with spray paint on the building",
        "New tags on the back of the store",
        "Paint on the bus shelter",
        "Gang tags on the retaining wall",
        "graffiti on the electrical box",
        "tag on the mailbox",
        "graffiti under the freeway",
        "marker tags on the light pole",
        "graffiti on the sidewalk",
        "graffiti again on the same wall",
        "stickers and tags on the signal box",
    ],
    "other": [
        "Homeless encampment on the sidewalk",
        "People camping with tents under the bridge",
        "Electric scooters left blocking the sidewalk",
        "Rental bikes dumped on the sidewalk",
        "Car parked in a red zone",
        "Vehicle blocking my driveway",
        "Cars parked on the yellow curb all day",
        "Stop sign is missing",
        "Street sign is faded",
        "Request for speed bumps",
        "Transient camp with trash and drug use",
        "Scooters lying in the street",
        "homeless",
        "transients",
        "tent on the sidewalk",
        "people sleeping on the sidewalk",
        "homeless man with shopping carts",
        "people living in a van",
        "scooter",
        "scooters blocking the sidewalk",
        "bird scooter",
        "lime scooter laying on the sidewalk",
        "scooter knocked over",
        "e-bike left in the street",
        "car parked on the sidewalk",
        "blocking driveway",
        "parked in a handicap spot",
        "double parked",
        "parked in the fire lane",
        "parking violation",
        "stop sign faded",
        "sign knocked down",
        "street name sign missing",
        "bent sign",
        "crosswalk paint faded",
        "red curb needs repainting",
        "cars speeding",
        "feces on the sidewalk",
        "needles",
        "scooter not parked in the corral",
        "scooters left in the middle of the sidewalk",
        "scooter laying down blocking the walkway",
        "scooters thrown in the bushes",
        "bikes and scooters piled up at the corner",
        "rental scooter blocking the ramp",
        "homeless people camping in the canyon",
        "person living in an RV on the street",
        "people sleeping in tents on the sidewalk",
        "transient blocking the doorway with belongings",
        "homeless camp with trash and shopping carts",
        "squatters in the vacant lot",
        "person passed out on the sidewalk",
        "drug use and fires at the encampment",
        "parked in a 2 hour zone all day",
        "parked in the loading zone for hours",
        "car parked in the bike lane",
        "blocking the alley",
        "parked too close to the corner",
        "street sweeping sign faded",
        "no parking sign missing",
        "sign pole knocked over",
        "stop sign hidden",
        "lane lines need repainting",
        "need a crosswalk here",
        "request for a stop sign",
        "mosquitoes from standing water in a yard",
        "dog off leash",
    ],
}


def renew_starter_examples(apps, schema_editor) -> None:
    """Categories whose examples are still the second starter set get the third (shared
    scooters and bikes by their operators' names and words, graffiti on street furniture,
    parking time limits);
    examples staff have edited are left alone."""
    Category = apps.get_model("issues", "Category")
    for category in Category.objects.filter(code__in=list(SECOND_EXAMPLES)).order_by("pk"):
        if category.examples == SECOND_EXAMPLES[category.code]:
            category.examples = list(STARTER_EXAMPLES[category.code])
            category.save(update_fields=["examples"])


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0020_starter_examples_v2"),
    ]

    operations = [
        migrations.RunPython(renew_starter_examples, migrations.RunPython.noop),
    ]
