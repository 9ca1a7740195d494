"""Realistic demo reports for the seeded tenants: what residents, students and guests
write, by category code. Generated with a fixed seed, so every fresh demo looks the same."""

# {n}: a house or room number, {street}: a street, {place}: a place in a building.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "potholes": (
        "Deep pothole in the road outside {n} {street}, cars swerving around it",
        "Pothole on {street} near number {n} is getting bigger after the rain",
        "Huge hole in the asphalt at {n} {street}, damaged my tyre",
    ),
    "street_lights": (
        "Street light out in front of {n} {street}, the corner is completely dark",
        "Streetlight flickering all night near {n} {street}",
        "Lamp post at {street} and {street2} has been dark for a week",
    ),
    "graffiti": (
        "Graffiti sprayed on the wall at {n} {street}",
        "Fresh graffiti tags on the bus shelter on {street}",
    ),
    "sanitation": (
        "Trash not collected on {street} this week, bins overflowing",
        "Illegal dumping of furniture behind {n} {street}",
        "Overflowing garbage can at the corner of {street} and {street2}, rats seen",
    ),
    "noise": (
        "Loud music from {n} {street} every night past midnight",
        "Construction noise starting at 5am near {street}",
        "Very loud party noise coming from the {place}",
    ),
    "trees_parks": (
        "Large branch fell on the sidewalk at {n} {street}",
        "Broken swing at the playground on {street}",
        "Dead tree leaning over the road near {n} {street}, looks dangerous",
    ),
    "water_sewer": (
        "Water gushing from the street at {n} {street}, possible main break",
        "Sewer smell and manhole overflowing on {street}",
        "Fire hydrant leaking at {street} and {street2}",
    ),
    "traffic_signals": (
        "Traffic light at {street} and {street2} stuck on red",
        "Pedestrian signal not working at the {street} crosswalk",
    ),
    "abandoned_vehicles": (
        "Abandoned car with flat tyres parked on {street} for weeks",
        "Derelict van with no plates outside {n} {street}",
    ),
    "sidewalks": (
        "Broken sidewalk slab at {n} {street}, people tripping",
        "Curb ramp missing at {street} and {street2}, wheelchair users cannot cross",
    ),
    "plumbing": (
        "Toilet leaking in the {place}",
        "Sink clogged and water not draining in the {place}",
        "Leak from the ceiling in the {place}, water dripping on the floor",
    ),
    "electrical": (
        "Power outlets not working in the {place}",
        "Lights flickering in the {place}",
        "Exposed wiring near the door of the {place}",
    ),
    "hvac": (
        "No heating in the {place}, it is freezing",
        "Air conditioning not working in the {place}, very hot",
        "Thermostat broken in the {place}",
    ),
    "elevators": (
        "Elevator out of service near the {place}",
        "Lift stuck between floors, doors will not open",
    ),
    "cleaning": (
        "Spill on the floor of the {place}, slippery",
        "Restroom near the {place} is dirty and out of paper",
        "Trash bins overflowing in the {place}",
    ),
    "security": (
        "Door lock broken at the {place}",
        "Access card reader not working at the {place} entrance",
    ),
    "grounds": (
        "Ice on the path outside the {place}, very slippery",
        "Outdoor lights out along the path to the {place}",
    ),
    "classroom_av": (
        "Projector not working in the {place}",
        "No wifi in the {place} during lectures",
    ),
    "other": ("Something is wrong near the {place}, please check",),
}

CITY_STREETS = (
    "Main Street",
    "Oak Avenue",
    "Elm Street",
    "Lincoln Boulevard",
    "Washington Street",
    "Maple Drive",
    "Cedar Lane",
    "Park Avenue",
    "Jefferson Street",
    "Monroe Street",
    "Adams Street",
    "Capitol Avenue",
)
CAMPUS_PLACES = (
    "library",
    "science hall",
    "student union",
    "dining hall",
    "gym",
    "lecture hall B",
    "dorm north wing",
    "chemistry lab",
    "parking deck",
    "arts building",
)
HOTEL_PLACES = (
    "lobby",
    "room {room}",
    "room {room}",
    "room {room}",
    "restaurant",
    "bar",
    "pool area",
    "spa",
    "conference room",
    "car park",
)
