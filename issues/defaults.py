"""The categories a new tenant starts with, by kind. Staff edit them freely afterwards."""

from typing import NamedTuple


class CategoryDefault(NamedTuple):
    code: str
    name: str
    description: str
    keywords: tuple[str, ...]
    severity: str = "medium"
    # Optional extra questions (Open311 service attributes); see Category.questions.
    questions: tuple[dict, ...] = ()


_OTHER = CategoryDefault("other", "Other", "Anything that fits no other category.", ())
_NOISE = CategoryDefault(
    "noise",
    "Noise",
    "Loud music, machinery, alarms or other disturbing noise.",
    ("noise", "loud", "music", "party", "alarm", "barking"),
    "low",
)
_BUILDING = [
    CategoryDefault(
        "plumbing",
        "Plumbing",
        "Leaks, clogged drains, toilets, taps and water pressure.",
        ("leak", "leaking", "toilet", "sink", "drain", "clogged", "tap", "faucet", "water", "pipe", "flood"),
        "high",
    ),
    CategoryDefault(
        "electrical",
        "Electrical",
        "Power outages, sockets, lighting and exposed wiring.",
        ("power", "outlet", "socket", "light", "bulb", "wiring", "spark", "breaker", "electric"),
        "high",
    ),
    CategoryDefault(
        "hvac",
        "Heating and cooling",
        "Heating, air conditioning and ventilation.",
        ("heat", "heating", "cold", "hot", "air conditioning", "ac", "radiator", "ventilation", "thermostat"),
    ),
    CategoryDefault(
        "elevators",
        "Elevators",
        "Elevators and lifts out of service or unsafe.",
        ("elevator", "lift", "stuck", "escalator"),
        "high",
    ),
    CategoryDefault(
        "cleaning",
        "Cleaning",
        "Spills, dirty areas, restrooms and waste bins.",
        ("dirty", "spill", "trash", "bin", "restroom", "smell", "clean", "stain"),
        "low",
    ),
    CategoryDefault(
        "security",
        "Security",
        "Broken locks, doors, access cards and safety concerns.",
        ("lock", "door", "key", "access", "card", "intruder", "unsafe", "security", "broken window"),
        "high",
    ),
]
_CITY = [
    CategoryDefault(
        "potholes",
        "Potholes",
        "Holes and damage in the road surface.",
        ("pothole", "hole", "road", "asphalt", "crack", "street damage"),
        questions=(
            {
                "code": "size",
                "description": "About how big is it?",
                "datatype": "singlevaluelist",
                "required": False,
                "values": [
                    {"key": "small", "name": "Smaller than a plate"},
                    {"key": "medium", "name": "Up to a tyre"},
                    {"key": "large", "name": "Larger than a tyre"},
                ],
            },
        ),
    ),
    CategoryDefault(
        "street_lights",
        "Street lights",
        "Street lights that are out, flickering or damaged.",
        ("street light", "streetlight", "lamp", "light out", "dark", "flickering"),
        questions=(
            {
                "code": "pole_number",
                "description": "The number on the pole, if you can see it.",
                "datatype": "string",
                "required": False,
            },
        ),
    ),
    CategoryDefault(
        "graffiti",
        "Graffiti",
        "Graffiti and vandalism on public or private property.",
        ("graffiti", "tag", "spray", "vandalism", "paint"),
        "low",
    ),
    CategoryDefault(
        "sanitation",
        "Sanitation",
        "Missed collections, overflowing bins, litter and dumping.",
        ("trash", "garbage", "litter", "dumping", "bin", "recycling", "collection", "rats"),
    ),
    _NOISE,
    CategoryDefault(
        "trees_parks",
        "Trees and parks",
        "Fallen or dangerous trees, park equipment and grounds.",
        ("tree", "branch", "park", "playground", "grass", "bench"),
    ),
    CategoryDefault(
        "water_sewer",
        "Water and sewer",
        "Water main breaks, hydrants, flooding and sewers.",
        ("water", "water main", "hydrant", "sewer", "flood", "flooding", "manhole", "leak"),
        "high",
    ),
    CategoryDefault(
        "traffic_signals",
        "Traffic signals",
        "Traffic lights and pedestrian signals not working.",
        ("traffic light", "signal", "crosswalk", "pedestrian", "red light"),
        "critical",
    ),
    CategoryDefault(
        "abandoned_vehicles",
        "Abandoned vehicles",
        "Vehicles left unmoved or derelict on the street.",
        ("abandoned", "vehicle", "car", "parked", "derelict", "plates"),
        "low",
    ),
    CategoryDefault(
        "sidewalks",
        "Sidewalks",
        "Broken, uneven or blocked sidewalks and curbs.",
        ("sidewalk", "curb", "trip", "uneven", "pavement", "ramp"),
    ),
    _OTHER,
]
_CAMPUS = [
    *_BUILDING,
    CategoryDefault(
        "grounds",
        "Grounds",
        "Paths, lawns, snow and ice, outdoor lighting on campus.",
        ("path", "lawn", "snow", "ice", "grounds", "tree", "outdoor"),
    ),
    CategoryDefault(
        "classroom_av",
        "Classroom technology",
        "Projectors, screens, audio and network in rooms.",
        ("projector", "screen", "wifi", "network", "audio", "microphone", "hdmi"),
    ),
    _NOISE,
    _OTHER,
]
_FACILITY = [
    *_BUILDING,
    CategoryDefault(
        "safety_hazard",
        "Safety hazard",
        "Trip hazards, exposed edges, blocked exits.",
        ("hazard", "trip", "blocked exit", "fire", "smoke", "unsafe"),
        "critical",
    ),
    _OTHER,
]
_BUILDING_KIND = [*_BUILDING, _NOISE, _OTHER]

CATEGORIES_BY_KIND: dict[str, list[CategoryDefault]] = {
    "city": _CITY,
    "building": _BUILDING_KIND,
    "campus": _CAMPUS,
    "hotel": _BUILDING_KIND,
    "facility": _FACILITY,
}


class DepartmentDefault(NamedTuple):
    code: str
    name: str
    categories: tuple[str, ...]


_BUILDING_DEPARTMENTS = [
    DepartmentDefault(
        "maintenance", "Maintenance", ("plumbing", "electrical", "hvac", "elevators", "safety_hazard")
    ),
    DepartmentDefault("housekeeping", "Housekeeping", ("cleaning",)),
    DepartmentDefault("security", "Security", ("security", "noise")),
    DepartmentDefault("front_desk", "Front desk", ("other",)),
]
DEPARTMENTS_BY_KIND: dict[str, list[DepartmentDefault]] = {
    "city": [
        DepartmentDefault(
            "public_works", "Public Works", ("potholes", "sidewalks", "street_lights", "traffic_signals")
        ),
        DepartmentDefault("sanitation", "Sanitation", ("sanitation", "graffiti")),
        DepartmentDefault("parks", "Parks and Recreation", ("trees_parks",)),
        DepartmentDefault("water", "Water and Sewer", ("water_sewer",)),
        DepartmentDefault("code_enforcement", "Code Enforcement", ("noise", "abandoned_vehicles")),
        DepartmentDefault("service_desk", "311 Service Desk", ("other",)),
    ],
    "campus": [
        *_BUILDING_DEPARTMENTS[:3],
        DepartmentDefault("grounds", "Grounds", ("grounds",)),
        DepartmentDefault("it", "IT and AV", ("classroom_av",)),
        DepartmentDefault("facilities_desk", "Facilities desk", ("other",)),
    ],
    "building": _BUILDING_DEPARTMENTS,
    "hotel": _BUILDING_DEPARTMENTS,
    "facility": _BUILDING_DEPARTMENTS,
}
