"""The four-tier property lookup (EXACT_PIN, EXACT_ADDRESS, STREET_ZIP, GEOSPATIAL, else
NO_MATCH), its API and the address autocomplete."""

import pytest

from analytics.property.lookup import property_lookup
from analytics.property.selectors import address_suggestions
from civicpulse.core.geo import METRES_PER_DEGREE
from tests.conftest import api
from tests.support.property_data import LAT, LON, PIN, location_at, property_with_records


@pytest.fixture
def place(tenant_a) -> dict:
    home = property_with_records(open_violations=1)
    # A second house on the street, and a place whose address could not be parsed.
    other = location_at("40 N Main St, Chicago IL 60601", LAT + 0.002, LON)
    vague = location_at("Corner of the park by the old mill", LAT - 0.003, LON)
    return {"home": home, "other": other, "vague": vague}


def test_a_pin_with_or_without_dashes_matches_its_parcel(place: dict) -> None:
    for pin in (PIN, PIN.replace("-", ""), "17-09-100-001"):
        found = property_lookup(pin=pin)
        assert (found.location, found.match_confidence) == (place["home"], "EXACT_PIN")
    # The PIN wins over an address naming another house.
    assert property_lookup(pin=PIN, address="40 N Main St 60601").match_confidence == "EXACT_PIN"


def test_an_address_matches_through_its_standardised_form(place: dict) -> None:
    found = property_lookup(address="12 North Main Street")
    assert (found.location, found.match_confidence, found.warning) == (place["home"], "EXACT_ADDRESS", "")
    assert found.as_dict()["parse_confidence"] == "HIGH"


def test_number_street_and_zip_match_when_the_full_address_does_not(place: dict) -> None:
    # "South" and "Avenue" differ from the record's "N" and "St": number, street and ZIP agree.
    found = property_lookup(address="12 South Main Avenue, Chicago IL 60601")
    assert (found.location, found.match_confidence) == (place["home"], "STREET_ZIP")
    assert "house number, street and ZIP" in found.warning
    # Without a ZIP code, or in another one, it is not the same place.
    assert property_lookup(address="12 South Main Avenue").match_confidence == "NO_MATCH"
    assert property_lookup(address="12 South Main Avenue, Chicago IL 60602").match_confidence == "NO_MATCH"


def test_a_point_matches_the_nearest_location_within_50_m(place: dict) -> None:
    near = property_lookup(latitude=LAT + 30 / METRES_PER_DEGREE, longitude=LON)
    assert (near.location, near.match_confidence) == (place["home"], "GEOSPATIAL")
    assert 29.0 <= near.distance_m <= 31.0
    # 55 m from the nearest known location: nothing.
    far = property_lookup(latitude=LAT - 55 / METRES_PER_DEGREE, longitude=LON)
    assert (far.resolved, far.match_confidence) == (False, "NO_MATCH")


def test_a_loose_parse_is_said_on_the_match(place: dict) -> None:
    found = property_lookup(address="Corner of the park by the old mill")
    assert found.match_confidence == "EXACT_ADDRESS"
    assert found.as_dict()["parse_confidence"] == "LOW"
    assert "low confidence" in found.warning


def test_nothing_matching_is_no_match_with_a_warning(place: dict) -> None:
    found = property_lookup(
        pin="99-99-999-999-9999", address="999 Nowhere Rd 60601", latitude=0.0, longitude=0.0
    )
    assert found.as_dict() == {
        "location_id": None,
        "match_confidence": "NO_MATCH",
        "address": None,
        "resolved": False,
        "warning": "No known location matches the parcel number or address or point within 50 m: check the "
        "spelling, or search by parcel number or position.",
        "parse_confidence": None,
        "distance_m": None,
    }


def test_the_lookup_api_needs_the_property_scope(place: dict, client_a, tenant_a) -> None:
    from civicpulse.apikeys.services import api_key_create

    read_only = api_key_create(name="reader", scopes=["read"])[1]
    assert api(client_a, read_only).post("/api/v1/property/lookup", {"pin": PIN}).status_code == 403
    assert api(client_a, None).post("/api/v1/property/lookup", {"pin": PIN}).status_code == 401
    key = api_key_create(name="integrator", scopes=["property"])[1]
    answer = api(client_a, key).post("/api/v1/property/lookup", {"address": "12 N Main St"})
    assert answer.status_code == 200
    assert answer.json() == {
        "location_id": place["home"].pk,
        "match_confidence": "EXACT_ADDRESS",
        "address": "12 N Main St, Chicago IL 60601",
        "resolved": True,
        "warning": "",
        "parse_confidence": "HIGH",
        "distance_m": None,
    }
    bad = api(client_a, key).post("/api/v1/property/lookup", {"latitude": LAT})
    assert bad.status_code == 400 and bad.json()["fields"] == {
        "longitude": ["Give latitude and longitude together."]
    }
    assert api(client_a, key).post("/api/v1/property/lookup", {}).status_code == 400


def test_property_search_exists_on_city_tenants_only(tenant_b, client_b) -> None:
    from civicpulse.apikeys.services import api_key_create

    key = api_key_create(name="hotel", scopes=["property"])[1]
    answer = api(client_b, key).post("/api/v1/property/lookup", {"pin": PIN})
    assert answer.status_code == 404
    assert client_b.get("/property/").status_code == 404


def test_autocomplete_by_prefix_then_trigrams(place: dict, client_a, tenant_a) -> None:
    for n in range(12):
        location_at(f"{100 + n} W Lake St, Chicago IL 60601", LAT + 0.01, LON + n * 0.001)
    prefix = address_suggestions(q="10")
    assert len(prefix) == 10
    assert [s["address_key"] for s in prefix] == sorted(s["address_key"] for s in prefix)
    assert all(s["address_key"].startswith("10") for s in prefix)
    # A typo finds its neighbours by trigrams.
    fuzzy = address_suggestions(q="12 n mian st")
    assert fuzzy and fuzzy[0]["location_id"] == place["home"].pk
    assert address_suggestions(q="1") == []
    # A street without a number: its addresses, numbers in order.
    on_street = address_suggestions(q="West Lake Street")
    assert [s["address_key"] for s in on_street] == [f"{100 + n} w lake st" for n in range(10)]
    # A street typed partly, or with two letters swapped: the known streets it may mean.
    assert [s["address_key"] for s in address_suggestions(q="Lkae St")] == [
        s["address_key"] for s in on_street
    ]
    assert address_suggestions(q="w la")[0]["address_key"] == "100 w lake st"
    assert address_suggestions(q="Xkae St") == []
    from civicpulse.apikeys.services import api_key_create

    key = api_key_create(name="integrator", scopes=["property"])[1]
    answer = api(client_a, key).get("/api/v1/property/addresses?q=12 North Main")
    assert answer.status_code == 200
    assert answer.json()["results"][0] == {
        "location_id": place["home"].pk,
        "address": "12 N Main St, Chicago IL 60601",
        "address_key": "12 n main st",
    }
