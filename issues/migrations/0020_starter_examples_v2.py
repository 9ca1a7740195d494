from django.db import migrations

from issues.starter_examples import STARTER_EXAMPLES

# The city categories' first starter examples (migration 0016), frozen here: a category
# still holding exactly these was never edited by its staff.
FIRST_EXAMPLES: dict[str, list[str]] = {
    "potholes": [
        "Big pothole in the middle of the road",
        "Deep hole in the street damaged my tire",
        "Several potholes on this block",
        "Road surface is crumbling and broken",
        "Asphalt cracked and sinking near the intersection",
        "Pot hole in the right lane",
        "Huge pothole near the bus stop",
        "The street needs repaving, lots of holes",
        "Sinkhole forming in the roadway",
        "Patch on the road came loose",
    ],
    "street_lights": [
        "Street light is out",
        "Streetlight not working at night",
        "The lamp post keeps flickering",
        "Street light on during the day",
        "Whole block is dark, the lights are out",
        "Light pole was knocked over",
        "Light out on the pole in front of my house",
        "Damaged light pole with wires hanging",
    ],
    "graffiti": [
        "Graffiti on the wall",
        "Someone spray painted tags on the fence",
        "Graffiti on the utility box",
        "Tagging on the bridge and the signs",
        "Vandalism with spray paint on the building",
        "New tags on the back of the store",
        "Paint on the bus shelter",
        "Gang tags on the retaining wall",
    ],
    "sanitation": [
        "Trash was not picked up today",
        "Missed garbage collection on our street",
        "Recycling bin was not emptied",
        "Someone dumped a couch and a mattress on the sidewalk",
        "Illegal dumping in the alley",
        "Pile of trash and debris left on the curb",
        "Overflowing trash can at the park",
        "Litter all over the street",
        "Bags of garbage dumped by the road",
        "Old furniture and tires dumped",
        "Trash cans left out on the street for days",
        "Dead animal in the road needs removal",
        "Street sweeping was missed",
        "Green waste bin not collected",
    ],
    "noise": [
        "Loud music from the house next door",
        "Party noise late at night",
        "Construction noise before 7 am",
        "Car alarm going off for hours",
        "Dog barking all night",
        "Noise from the bar every night",
    ],
    "trees_parks": [
        "Tree branch fell on the sidewalk",
        "Tree needs trimming, branches block the sign",
        "Dead tree might fall on the street",
        "Overgrown bushes blocking the sidewalk",
        "Palm fronds fell in the road",
        "Broken swing at the playground",
        "Weeds growing over the path",
        "Fallen tree blocking the road",
        "Park bench is broken",
        "Tree limb hanging over the road",
    ],
    "water_sewer": [
        "Water main break flooding the street",
        "Fire hydrant leaking",
        "Sewer smell from the manhole",
        "Street is flooded after the rain",
        "Storm drain is clogged",
        "Water running down the gutter for days",
        "Sewage overflowing",
        "Manhole cover missing",
        "Sprinklers watering the street, water waste",
    ],
    "traffic_signals": [
        "Traffic light is out at the intersection",
        "Signal stuck on flashing red",
        "Traffic signal not changing",
        "Pedestrian crossing button not working",
        "Left turn arrow never turns green",
        "Traffic light timing is too short",
        "Signal head is turned the wrong way",
        "Walk signal broken",
    ],
    "abandoned_vehicles": [
        "Car has not moved in weeks",
        "Abandoned vehicle parked on the street",
        "Vehicle with flat tires parked for a month",
        "RV parked here for over 72 hours",
        "Car with expired plates hasn't moved",
        "Derelict car left on the street",
        "Truck parked in the same spot for two weeks",
        "Broken down van abandoned",
    ],
    "sidewalks": [
        "Sidewalk is cracked and uneven",
        "Trip hazard on the sidewalk",
        "Broken curb at the corner",
        "Sidewalk lifted by tree roots",
        "Missing curb ramp for wheelchairs",
        "Hole in the sidewalk",
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
    ],
}


def renew_starter_examples(apps, schema_editor) -> None:
    """Categories whose examples are still the first starter set get the larger one (the
    cold start's accuracy rose with it); examples staff have edited are left alone."""
    Category = apps.get_model("issues", "Category")
    for category in Category.objects.filter(code__in=list(FIRST_EXAMPLES)).order_by("pk"):
        if category.examples == FIRST_EXAMPLES[category.code]:
            category.examples = list(STARTER_EXAMPLES[category.code])
            category.save(update_fields=["examples"])


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0019_issue_public_recent_index"),
    ]

    operations = [
        migrations.RunPython(renew_starter_examples, migrations.RunPython.noop),
    ]
