"""Starter examples of the categories of buildings, hotels, campuses and facilities: what
occupants and guests write ("Toilet is clogged", "Lift stuck between floors"). Written by
the team, not copied from any dataset."""

PLACE_EXAMPLES: dict[str, tuple[str, ...]] = {
    "plumbing": (
        "Toilet is clogged",
        "Sink is leaking under the cabinet",
        "No hot water in the bathroom",
        "Water dripping from the ceiling",
        "Shower drain is blocked",
        "Low water pressure in the kitchen",
    ),
    "electrical": (
        "Power is out in my room",
        "Outlet is not working",
        "Lights flickering in the hallway",
        "Exposed wires near the door",
        "Breaker keeps tripping",
        "Light bulb out in the stairwell",
    ),
    "hvac": (
        "Heating is not working",
        "Air conditioning blowing warm air",
        "Room is freezing cold",
        "Thermostat not responding",
        "Radiator is banging",
        "No ventilation, it is stuffy",
    ),
    "elevators": (
        "Elevator is out of service",
        "Lift stuck between floors",
        "Elevator doors not closing",
        "Elevator making a grinding noise",
        "Escalator stopped",
    ),
    "cleaning": (
        "Spill in the lobby",
        "Restroom is dirty",
        "Trash bin overflowing in the hallway",
        "Bad smell in the corridor",
        "Stain on the carpet",
        "Floor is sticky and needs mopping",
    ),
    "security": (
        "Door lock is broken",
        "Access card not working",
        "Stranger in the building",
        "Back door left propped open",
        "Broken window on the ground floor",
        "Lost my key",
    ),
    "grounds": (
        "Icy path near the library",
        "Snow not cleared from the walkway",
        "Lawn sprinkler broken",
        "Outdoor light out in the parking lot",
        "Fallen branch on the path",
    ),
    "classroom_av": (
        "Projector not turning on",
        "No wifi in the lecture hall",
        "Microphone not working",
        "HDMI cable missing in the classroom",
        "Screen stuck down",
    ),
    "safety_hazard": (
        "Emergency exit is blocked",
        "Trip hazard in the walkway",
        "Smell of smoke in the storage room",
        "Loose handrail on the stairs",
        "Exposed sharp edge on the shelf",
    ),
}
