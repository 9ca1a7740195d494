"""Generated city records for a demo city (and the property bench): addresses around the
city's centre, and for them building violations, food inspections, building permits, tax
sale events and vacant-building violations, written as files in the Chicago and Cook
County layouts and loaded through the real loaders (analytics.records.load), so the
property search has something to show and every batch is in the console. Deterministic
for a given seed; a few addresses are made to carry much of the risk, as in a real city."""

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

from analytics.records.load import import_records
from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from reports.models import ImportBatch

STREETS = (
    ("N", "MAIN", "ST"),
    ("S", "OAK", "AVE"),
    ("W", "ELM", "ST"),
    ("E", "LINCOLN", "BLVD"),
    ("N", "WASHINGTON", "ST"),
    ("S", "MAPLE", "DR"),
    ("W", "CEDAR", "LN"),
    ("E", "PARK", "AVE"),
    ("N", "JEFFERSON", "ST"),
    ("S", "MONROE", "ST"),
    ("W", "ADAMS", "ST"),
    ("E", "CAPITOL", "AVE"),
)
# What the demo city gets: records for a few hundred addresses.
DEMO_ADDRESSES = 300
DEMO_RECORDS = {
    "violations": 1500,
    "inspections": 300,
    "permits": 450,
    "tax_sales": 80,
    "vacant_buildings": 60,
}
# The order datasets load in: permits before tax sales, whose parcels they locate.
ORDER = ("violations", "inspections", "permits", "tax_sales", "vacant_buildings")


@dataclass(frozen=True)
class Address:
    number: int
    direction: str
    street: str
    street_type: str
    lat: float
    lon: float
    pin: str

    @property
    def line(self) -> str:
        return f"{self.number} {self.direction} {self.street} {self.street_type}"


def addresses(rng: random.Random, count: int, center: tuple[float, float], spread_m: float) -> list[Address]:
    """`count` distinct addresses, numbered along the streets, scattered around the centre."""
    out = []
    lat0, lon0 = center
    per_street = -(-count // len(STREETS))
    for i in range(count):
        direction, street, street_type = STREETS[i % len(STREETS)]
        number = 100 + 2 * (i // len(STREETS)) + (i % 2)
        lat = lat0 + rng.gauss(0, spread_m) / METRES_PER_DEGREE
        lon = lon0 + rng.gauss(0, spread_m) / metres_per_degree_lon(lat0)
        # Digits only, unique per address; the same parcel in permits and tax sales.
        pin = f"{17 + i % 10:02d}{(i // per_street) % 100:02d}{i % 1000:03d}{i // 1000 % 1000:03d}0000"
        out.append(Address(number, direction, street, street_type, round(lat, 7), round(lon, 7), pin))
    return out


def _weights(rng: random.Random, n: int) -> list[float]:
    # A heavy tail: a few addresses carry most of the records.
    return [rng.paretovariate(1.2) for _ in range(n)]


def _day(rng: random.Random, today: date, years: float) -> date:
    return today - timedelta(days=int(rng.random() ** 1.5 * 365 * years))


def _rows(
    dataset: str, rng: random.Random, places: list[Address], count: int, today: date
) -> tuple[list[str], Iterator[list[object]]]:
    weights = _weights(rng, len(places))
    picks = rng.choices(places, weights=weights, k=count)

    def us(d: date) -> str:
        return d.strftime("%m/%d/%Y")

    if dataset == "violations":
        header = [
            "ID",
            "VIOLATION DATE",
            "VIOLATION CODE",
            "VIOLATION STATUS",
            "VIOLATION STATUS DATE",
            "VIOLATION DESCRIPTION",
            "INSPECTION STATUS",
            "ADDRESS",
            "STREET NUMBER",
            "STREET DIRECTION",
            "STREET NAME",
            "STREET TYPE",
            "LATITUDE",
            "LONGITUDE",
        ]

        def gen() -> Iterator[list[object]]:
            for n, a in enumerate(picks):
                d = _day(rng, today, 6)
                open_ = rng.random() < 0.3
                yield [
                    9_000_000 + n,
                    us(d),
                    rng.choice(["CN190029", "CN138056", "CN131026", "EV1110"]),
                    "OPEN" if open_ else "COMPLIED",
                    "" if open_ else us(min(today, d + timedelta(days=60))),
                    rng.choice(["ARRANGE FOR REINSPECTION", "DEBRIS, EXCESSIVE", "REPAIR SCREENS"]),
                    "FAILED" if open_ else "PASSED",
                    a.line,
                    a.number,
                    a.direction,
                    a.street,
                    a.street_type,
                    a.lat,
                    a.lon,
                ]

    elif dataset == "inspections":
        header = [
            "Inspection ID",
            "DBA Name",
            "Facility Type",
            "Risk",
            "Address",
            "Zip",
            "Inspection Date",
            "Inspection Type",
            "Results",
            "Violations",
            "Latitude",
            "Longitude",
        ]

        def gen() -> Iterator[list[object]]:
            for n, a in enumerate(picks):
                yield [
                    3_000_000 + n,
                    f"{a.street.title()} Diner {a.number}",
                    "Restaurant",
                    rng.choice(["Risk 1 (High)", "Risk 2 (Medium)", "Risk 3 (Low)"]),
                    a.line,
                    "62701",
                    us(_day(rng, today, 4)),
                    rng.choice(["Canvass", "Complaint", "License"]),
                    rng.choices(["Pass", "Fail", "Pass w/ Conditions"], [6, 2, 2])[0],
                    "",
                    a.lat,
                    a.lon,
                ]

    elif dataset == "permits":
        header = [
            "id",
            "permit_",
            "permit_status",
            "permit_type",
            "application_start_date",
            "issue_date",
            "processing_time",
            "street_number",
            "street_direction",
            "street_name",
            "street_type",
            "work_description",
            "pin_list",
            "latitude",
            "longitude",
        ]

        def gen() -> Iterator[list[object]]:
            for n, a in enumerate(picks):
                start = _day(rng, today, 8)
                days = int(rng.expovariate(1 / 40))
                kind = rng.choices(
                    [
                        "PERMIT - RENOVATION/ALTERATION",
                        "PERMIT - EASY PERMIT PROCESS",
                        "PERMIT - WRECKING/DEMOLITION",
                        "PERMIT - NEW CONSTRUCTION",
                    ],
                    [60, 30, 2, 8],
                )[0]
                yield [
                    7_000_000 + n,
                    200_000_000 + n,
                    rng.choice(["COMPLETE", "ACTIVE"]),
                    kind,
                    start.isoformat(),
                    (start + timedelta(days=days)).isoformat(),
                    days,
                    a.number,
                    a.direction,
                    a.street,
                    a.street_type,
                    "GENERATED WORK",
                    a.pin,
                    a.lat,
                    a.lon,
                ]

    elif dataset == "tax_sales":
        header = ["Tax Sale Year", "PIN", "Sold at Sale", "Total Tax and Penalty Amount Offered"]

        def gen() -> Iterator[list[object]]:
            for a in picks:
                yield [
                    today.year - rng.randint(0, 8),
                    a.pin,
                    rng.choice(["true", "false"]),
                    f"{rng.lognormvariate(8, 1.2):.2f}",
                ]

    elif dataset == "vacant_buildings":
        header = [
            "Docket Number",
            "Violation Number",
            "Issued Date",
            "Property Address",
            "Violation Type",
            "Disposition Description",
            "Total Fines",
            "Current Amount Due",
        ]

        def gen() -> Iterator[list[object]]:
            for n, a in enumerate(picks):
                fine = rng.choice([0, 500, 1000, 1500, 3000])
                due = fine if rng.random() < 0.4 else 0
                yield [
                    f"D{n:07d}",
                    f"V{n:07d}",
                    us(_day(rng, today, 10)),
                    a.line,
                    "193110 Insure and secure vacant building.",
                    "Liable" if fine else "Not liable",
                    f"{fine:.2f}",
                    f"{due:.2f}",
                ]

    else:
        raise ValueError(dataset)
    return header, gen()


def write_dataset(path: Path, dataset: str, rng: random.Random, places: list[Address], count: int) -> Path:
    header, rows = _rows(dataset, rng, places, count, timezone.localdate())
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def seed_records(
    *,
    center: tuple[float, float],
    places: int,
    counts: dict[str, int],
    directory: Path,
    seed: str = "civicpulse-records",
    progress: Callable[[int], object] = lambda n: None,
    timed: Callable[[str, ImportBatch, float], object] = lambda dataset, batch, seconds: None,
) -> dict[str, ImportBatch]:
    """Generate and load `counts[dataset]` records over `places` addresses in the current
    tenant; `progress` hears of rows as they are read, `timed` of each load's seconds."""
    import time

    rng = random.Random(seed)
    spots = addresses(rng, places, center, spread_m=1500.0)
    batches = {}
    for dataset in ORDER:
        if not counts.get(dataset):
            continue
        path = write_dataset(directory / f"{dataset}.csv", dataset, rng, spots, counts[dataset])
        fmt = "cook_county" if dataset == "tax_sales" else "chicago"
        started = time.perf_counter()
        batches[dataset] = import_records(path=path, dataset=dataset, fmt=fmt, progress=progress)
        timed(dataset, batches[dataset], time.perf_counter() - started)
    return batches
