"""Generated 311 history in the City of Chicago's export layout, for the demo
(`make seed-history`) and the import benchmark. Nothing is downloaded."""

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HEADER = [
    "SR_NUMBER",
    "SR_TYPE",
    "SR_SHORT_CODE",
    "CREATED_DEPARTMENT",
    "OWNER_DEPARTMENT",
    "STATUS",
    "ORIGIN",
    "CREATED_DATE",
    "LAST_MODIFIED_DATE",
    "CLOSED_DATE",
    "STREET_ADDRESS",
    "CITY",
    "STATE",
    "ZIP_CODE",
    "STREET_NUMBER",
    "STREET_DIRECTION",
    "STREET_NAME",
    "STREET_TYPE",
    "DUPLICATE",
    "LEGACY_RECORD",
    "LEGACY_SR_NUMBER",
    "PARENT_SR_NUMBER",
    "COMMUNITY_AREA",
    "WARD",
    "ELECTRICAL_DISTRICT",
    "ELECTRICITY_GRID",
    "POLICE_SECTOR",
    "POLICE_DISTRICT",
    "POLICE_BEAT",
    "PRECINCT",
    "SANITATION_DIVISION_DAYS",
    "CREATED_HOUR",
    "CREATED_DAY_OF_WEEK",
    "CREATED_MONTH",
    "X_COORDINATE",
    "Y_COORDINATE",
    "LATITUDE",
    "LONGITUDE",
    "LOCATION",
]
TYPES = [
    ("Pothole in Street Complaint", "PHF"),
    ("Street Light Out Complaint", "SLA"),
    ("Graffiti Removal Request", "GRAF"),
    ("Garbage Cart Maintenance", "SGA"),
    ("Abandoned Vehicle Complaint", "SKA"),
    ("Tree Debris Clean-Up", "SEE"),
    ("Water On Street Complaint", "AAF"),
    ("Traffic Signal Out Complaint", "SFD"),
    ("Sidewalk Inspection Request", "CSF"),
    ("Noise Complaint", "NOI"),
]
STREETS = [
    "STATE",
    "MADISON",
    "CLARK",
    "HALSTED",
    "ASHLAND",
    "WESTERN",
    "PULASKI",
    "CICERO",
    "ARCHER",
    "MILWAUKEE",
]


def generate_chicago311(
    path: Path, rows: int, center: tuple[float, float] = (41.825, -87.685), start: datetime | None = None
) -> None:
    """A year of requests (from `start`, default a year ago) over a city around `center`,
    about 5 % naming an earlier request as parent. Seeded: the same file every time."""
    rng = random.Random(311)
    start = start or (datetime.now() - timedelta(days=365)).replace(hour=0, minute=0, second=0, microsecond=0)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n in range(rows):
            created = start + timedelta(seconds=int(n * 31_536_000 / rows))
            sr_type, code = TYPES[n % len(TYPES)]
            status = "Completed" if rng.random() < 0.8 else "Open"
            closed = (
                (created + timedelta(hours=rng.randint(1, 400))).strftime("%m/%d/%Y %I:%M:%S %p")
                if status == "Completed"
                else ""
            )
            parent = f"SR{rng.randint(max(0, n - 500), n - 1):08d}" if n and rng.random() < 0.05 else ""
            number, street = rng.randint(1, 9999), rng.choice(STREETS)
            lat, lon = center[0] + (rng.random() - 0.5) * 0.35, center[1] + (rng.random() - 0.5) * 0.33
            writer.writerow(
                [
                    f"SR{n:08d}",
                    sr_type,
                    code,
                    "",
                    "",
                    "Completed - Dup" if parent else status,
                    "Phone Call",
                    created.strftime("%m/%d/%Y %I:%M:%S %p"),
                    "",
                    closed,
                    f"{number} N {street} ST",
                    "CHICAGO",
                    "IL",
                    "60602",
                    number,
                    "N",
                    street,
                    "ST",
                    "true" if parent else "false",
                    "false",
                    "",
                    parent,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    created.hour,
                    created.weekday(),
                    created.month,
                    "",
                    "",
                    f"{lat:.6f}",
                    f"{lon:.6f}",
                    f"({lat:.6f}, {lon:.6f})",
                ]
            )
