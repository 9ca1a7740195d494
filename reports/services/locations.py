"""Where an address is (reports.models.Location), and who may say so.

A resident's point is a claim, not a fact: one report must not fix an address's place
for every later report of it. An address learns its point in one of three ways:

- staff place it (a report's placement, or the Location page of the console): staff
  always win, move a point already known, and each move is a LocationChange;
- several independent reports agree (`location_witness`): AGREEMENT reports, each from a
  different client address and, where they gave one, a different email, whose points lie
  within AGREEMENT_RADIUS_M of one another, within WITNESS_DAYS. The point learned is
  their mean. Reports only ever teach an address that has no point yet; once known, only
  staff move it;
- the city's own records, loaded by `import_reports` (reports.imports.writes), which the
  operator runs from the command line: trusted as the tenant's own data, first known wins.

When the tenant has areas with boundaries, a point outside all of them teaches nothing,
and staff cannot place an address there.
"""

import math
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from civicpulse.core.ratelimit import address_rate_key
from civicpulse.core.tenancy import current_schema
from issues.models import Area
from issues.selectors import area_for_point
from reports.addresses import StandardAddress
from reports.models import Location, LocationChange, LocationSighting

AGREEMENT = 3  # independent reports
AGREEMENT_RADIUS_M = 30.0
# Witnesses read per address: enough for any real agreement, bounded against floods.
MAX_WITNESSES = 50
# Witnesses older than this no longer count, and are deleted when their address is next
# reported: agreement is about the place as it is now, and nothing is kept for long.
WITNESS_DAYS = 90

_INSERT = (
    "INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,"
    " latitude, longitude, source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
)


def _witness_hash(kind: str, value: str) -> str:
    # Salted per tenant: the table never holds a client address or an email.
    return salted_hmac(f"civicpulse.location-witness.{kind}", f"{current_schema()}:{value}").hexdigest()


def tenant_areas_bounded() -> list[Area]:
    """The tenant's active areas with a boundary: what a point must fall in, when any."""
    return list(Area.objects.filter(active=True).exclude(boundary=None))


def point_in_tenant_areas(latitude: float, longitude: float, areas: list[Area] | None = None) -> bool:
    """True when the tenant has no active area with a boundary, or the point lies in one
    of them (a retired area takes no new reports, and does not close the map either).
    `areas`: tenant_areas_bounded(), read already for several points."""
    if areas is None:
        areas = tenant_areas_bounded()
    return not areas or area_for_point(latitude, longitude, areas) is not None


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[0] - b[0]) * METRES_PER_DEGREE
    dx = (a[1] - b[1]) * metres_per_degree_lon((a[0] + b[0]) / 2)
    return math.hypot(dx, dy)


def _agreement(witnesses: list[LocationSighting]) -> tuple[float, float] | None:
    """The mean point of AGREEMENT independent witnesses close to one another, if any:
    around each witness in turn, the others within the radius, each client and each
    email counted once."""
    for centre in witnesses:
        clients: set[str] = set()
        emails: set[str] = set()
        points: list[tuple[float, float]] = []
        for witness in witnesses:
            point = (witness.latitude, witness.longitude)
            if _distance_m((centre.latitude, centre.longitude), point) > AGREEMENT_RADIUS_M:
                continue
            if witness.client_hash in clients or (witness.email_hash and witness.email_hash in emails):
                continue
            clients.add(witness.client_hash)
            if witness.email_hash:
                emails.add(witness.email_hash)
            points.append(point)
        if len(points) >= AGREEMENT:
            return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
    return None


def location_witness(
    *,
    address_key: str,
    std: StandardAddress,
    address: str,
    latitude: float,
    longitude: float,
    client: str,
    email: str = "",
) -> Location | None:
    """A report gave an address and a point: count it as one witness of where the
    address is, and learn the point once enough independent witnesses agree. Returns the
    Location learned now, if any. Runs inside the report's transaction."""
    if not address_key or not client or not point_in_tenant_areas(latitude, longitude):
        return None
    if Location.objects.filter(address_key=address_key).exists():
        return None  # known: only staff move it
    with connection.cursor() as cursor:
        # A client counts once per address: its latest point stands.
        cursor.execute(
            "INSERT INTO reports_locationsighting (address_key, client_hash, email_hash, latitude, longitude,"
            " seen_at) VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (address_key, client_hash) DO UPDATE"
            " SET email_hash = EXCLUDED.email_hash, latitude = EXCLUDED.latitude,"
            " longitude = EXCLUDED.longitude, seen_at = EXCLUDED.seen_at",
            [
                address_key,
                # An IPv6 subscriber picks any address of its /64 at will: the /64 is one client.
                _witness_hash("client", address_rate_key(client)),
                _witness_hash("email", email.strip().lower()) if email.strip() else "",
                latitude,
                longitude,
            ],
        )
    LocationSighting.objects.filter(
        address_key=address_key, seen_at__lt=timezone.now() - timedelta(days=WITNESS_DAYS)
    ).delete()
    witnesses = list(
        LocationSighting.objects.filter(address_key=address_key).order_by("-seen_at")[:MAX_WITNESSES]
    )
    agreed = _agreement(witnesses)
    if agreed is None:
        return None
    with connection.cursor() as cursor:
        # Two agreements at the same moment: the first one stands, never overwritten.
        cursor.execute(
            _INSERT + " ON CONFLICT (address_key) DO NOTHING RETURNING id",
            [*_parts(address_key, std, address), agreed[0], agreed[1], Location.Source.REPORTS],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    LocationChange.objects.create(
        location_id=row[0], source=Location.Source.REPORTS, to_latitude=agreed[0], to_longitude=agreed[1]
    )
    # The witnesses have served: no record of who reported from where is kept.
    LocationSighting.objects.filter(address_key=address_key).delete()
    return Location.objects.get(pk=row[0])


def _parts(address_key: str, std: StandardAddress, address: str) -> list[str]:
    return [
        address_key,
        address[:500],
        std.number[:20],
        std.direction[:10],
        std.street[:200],
        std.street_type[:20],
        std.unit[:50],
        std.zip[:10],
    ]


@transaction.atomic
def location_place(
    *,
    address_key: str,
    std: StandardAddress,
    address: str,
    latitude: float,
    longitude: float,
    actor: User | None,
) -> Location:
    """Staff say where an address is: the address is created or moved there whatever it
    knew before (a point learned from reports, an import, an earlier placement), and the
    move is recorded. Refused outside the tenant's areas, when it has any."""
    if not address_key:
        raise ValidationError({"address": "This report has no address to place."})
    if not point_in_tenant_areas(latitude, longitude):
        raise ValidationError({"latitude": "That point lies outside all of this place's areas."})
    with connection.cursor() as cursor:
        # Create it, or lock the known row, so the point read below is the one replaced.
        cursor.execute(
            _INSERT + " ON CONFLICT (address_key) DO NOTHING RETURNING id",
            [*_parts(address_key, std, address), latitude, longitude, Location.Source.STAFF],
        )
        created = cursor.fetchone()
    location = Location.objects.select_for_update().get(address_key=address_key)
    before = None if created else (location.latitude, location.longitude)
    if before is not None:
        location.latitude, location.longitude, location.source = latitude, longitude, Location.Source.STAFF
        location.save(update_fields=["latitude", "longitude", "source"])
    if created or before != (latitude, longitude):
        LocationChange.objects.create(
            location=location,
            source=Location.Source.STAFF,
            from_latitude=before[0] if before else None,
            from_longitude=before[1] if before else None,
            to_latitude=latitude,
            to_longitude=longitude,
            actor=actor,
        )
    LocationSighting.objects.filter(address_key=address_key).delete()
    return location
