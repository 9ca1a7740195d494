"""Reports submitted at the same moment in one process are written by one INSERT
(reports.services.insert_group): every request still gets its own report back, committed;
a group the database refuses is written row by row, so each request gets its own answer;
a group whose fate is unknown is not written again; tenants are never mixed."""

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    OperationalError,
    close_old_connections,
    connection,
)
from django.db.backends.utils import CursorWrapper
from django_tenants.utils import tenant_context

from civicpulse.core.inserts import InsertStatement
from reports.models import Report
from reports.services import insert_group
from reports.services.intake import SubmitResult, report_submit
from tests.support.services import committed_tenant

POINT = {"latitude": 39.8, "longitude": -89.64}


@pytest.fixture
def cities(django_db_setup, django_db_blocker) -> Iterator[tuple[object, object]]:
    """Two committed tenants: the threads below write with connections of their own."""
    with (
        django_db_blocker.unblock(),
        committed_tenant("intake-group-a", "Group City A", "city") as first,
        committed_tenant("intake-group-b", "Group City B", "city") as second,
    ):
        yield first, second


@pytest.fixture(autouse=True)
def nothing_left_waiting() -> Iterator[None]:
    yield
    assert not insert_group._groups._waiting and not insert_group._groups._leading


def _queued() -> int:
    with insert_group._groups._lock:
        return sum(len(queue) for queue in insert_group._groups._waiting.values())


def _hold_until_queued(rows: int) -> None:
    """What the first writer does before writing: wait until `rows` rows queue behind it
    (or a few seconds pass), so they make the next group whatever the machine's load."""
    deadline = time.monotonic() + 5
    while _queued() < rows and time.monotonic() < deadline:
        time.sleep(0.005)


@dataclass
class Statements:
    """The row count of every statement written. The first one waits before it is sent
    until the test's `expected` requests are in (itself and those queued behind it), so
    those behind make the next group whatever the machine's load; with `lose_groups`, a
    statement of several rows after it fails as a lost connection does."""

    expected: int = 0
    lose_groups: bool = False
    sizes: list[int] = field(default_factory=list)


@pytest.fixture
def statements(monkeypatch) -> Statements:
    seen = Statements()
    statement_sql = insert_group.statement_sql

    def recorded(insert: InsertStatement, rows: Sequence[Sequence[Any]], cursor: CursorWrapper) -> str:
        sql = statement_sql(insert, rows, cursor)  # a value that cannot be sent: no statement
        seen.sizes.append(len(rows))
        if len(seen.sizes) == 1:
            _hold_until_queued(seen.expected - len(rows))
        elif seen.lose_groups and len(rows) > 1:
            raise OperationalError("server closed the connection unexpectedly")
        return sql

    monkeypatch.setattr(insert_group, "statement_sql", recorded)
    return seen


@pytest.fixture
def judged(monkeypatch) -> list[tuple[str, bool]]:
    """Each error a group's writer judged, by its type, and whether its fate was unknown."""
    seen: list[tuple[str, bool]] = []
    fate_unknown = insert_group._fate_unknown

    def recorded(exc: BaseException) -> bool:
        seen.append((type(exc).__name__, fate_unknown(exc)))
        return seen[-1][1]

    monkeypatch.setattr(insert_group, "_fate_unknown", recorded)
    return seen


def _at_once(calls: list[tuple[object, Callable[[], SubmitResult]]]) -> list[SubmitResult | BaseException]:
    """Each call in a thread of its own, in its tenant, all started together."""
    answers: list[SubmitResult | BaseException | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, tenant: object, call: Callable[[], SubmitResult]) -> None:
        try:
            with tenant_context(tenant):
                start.wait()
                answers[index] = call()
        except BaseException as exc:  # collected, and asserted in the test's thread
            answers[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t, c), daemon=True) for i, (t, c) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(not thread.is_alive() for thread in threads)
    return [answer for answer in answers if answer is not None]


def _stored(tenant: object) -> dict[int, str]:
    with tenant_context(tenant):
        return dict(Report.objects.values_list("pk", "description"))


def test_reports_sent_at_once_are_written_together_each_with_its_own_id(cities, statements) -> None:
    city, _ = cities
    texts = [f"Pothole number {n} on Main Street" for n in range(8)]
    statements.expected = 8
    answers = _at_once([(city, lambda text=text: report_submit(description=text, **POINT)) for text in texts])
    assert all(isinstance(a, SubmitResult) and a.created for a in answers), answers
    # The requests behind the first writer were written together, in one statement.
    assert len(statements.sizes) == 2 and sum(statements.sizes) == 8 and statements.sizes[1] > 1
    stored = _stored(city)
    assert sorted(stored.values()) == sorted(texts)
    # Each request got the id of its own row, and its instance is the stored report.
    assert {a.report.pk: a.report.description for a in answers} == stored
    with tenant_context(city):
        for answer in answers:
            row = Report.objects.get(pk=answer.report.pk)
            assert row.tracking_id == answer.report.tracking_id and row.status == Report.Status.RECEIVED


def test_values_are_stored_as_sent_alone_and_in_a_group(cities, statements) -> None:
    """The values are quoted into the statement on the client: text that looks like SQL,
    quoting or placeholders, any script, and coordinates to the last digit come back as
    they were sent, from the first writer's lone row and from the group behind it."""
    city, _ = cities
    sent = [
        ("O'Brien's \"deep\" hole'); DROP TABLE reports_report; --", 39.123456789012345),
        ("Back\\slash \\' and a tab\tthere", -0.000001),
        ("100% blocked %s %(name)s %% $1 $$dollar$$", 89.99999999999999),
        ("Bache en la calle — ñandú, señal rota 🚧", -89.5),
        ("E'\\x41' U&'\\0041' ::text", 1e-10),
        ("Line one\nline two\r\n", 45.0),
    ]
    statements.expected = len(sent)
    answers = _at_once(
        [
            (city, lambda t=text, x=x: report_submit(description=t, latitude=x, longitude=x))
            for text, x in sent
        ]
    )
    assert all(isinstance(a, SubmitResult) and a.created for a in answers), answers
    assert statements.sizes[0] == 1 and max(statements.sizes) > 1  # a lone row, then a group
    with tenant_context(city):
        stored = sorted(Report.objects.values_list("description", "latitude", "longitude"))
    assert stored == sorted((text, x, x) for text, x in sent)


def test_a_value_that_cannot_be_sent_fails_its_own_request_only(cities, statements, judged) -> None:
    """A value psycopg cannot send (a NUL in text: the API and the forms refuse it before)
    is found before the group's statement is sent: the group is refused as the database
    refuses one, its other rows are written alone, and only that request gets the error."""
    city, _ = cities
    statements.expected = 5

    def bad() -> SubmitResult:
        threading.Event().wait(0.1)  # queues behind the first writer, in its successor's group
        return report_submit(description="A NUL \x00 in it", **POINT)

    texts = [f"Sound report {n}" for n in range(4)]
    answers = _at_once(
        [*[(city, lambda t=t: report_submit(description=t, **POINT)) for t in texts], (city, bad)]
    )
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], DataError), answers
    # It was in a group of several, which was taken as refused (a lone row's error goes
    # to its request without being judged), and the rows were written alone.
    assert judged == [("DataError", False)] and statements.sizes == [1] * len(texts)
    assert sorted(_stored(city).values()) == texts


def test_a_refused_group_is_written_row_by_row(cities, statements, judged) -> None:
    """Two requests of one group carry the same new external_id: the group's INSERT is
    refused as a whole, then each row is written alone, so one of the two is stored and
    the other gets it back, and the group's other reports are stored."""
    from civicpulse.apikeys.services import api_key_create

    city, _ = cities
    with tenant_context(city):
        key, _ = api_key_create(name="crm", scopes=["submit"])

    def twin(text: str) -> Callable[[], SubmitResult]:
        def call() -> SubmitResult:
            threading.Event().wait(0.1)  # queues behind the first writer, in its successor's group
            return report_submit(description=text, api_key=key, external_id="crm-9", **POINT)

        return call

    statements.expected = 5
    calls = [(city, lambda n=n: report_submit(description=f"New report {n}", **POINT)) for n in range(3)]
    answers = _at_once([*calls, (city, twin("Sent once")), (city, twin("Sent twice"))])
    assert all(isinstance(a, SubmitResult) for a in answers), answers
    # A group holding both twins was refused by the database, as a whole, and not taken
    # for a lost connection.
    assert max(statements.sizes) > 1 and judged == [("IntegrityError", False)]
    twins = [a for a in answers if a.report.external_id == "crm-9"]
    assert sorted(a.created for a in twins) == [False, True]
    assert twins[0].report.pk == twins[1].report.pk
    stored = sorted(_stored(city).values())
    assert stored == sorted(["New report 0", "New report 1", "New report 2", twins[0].report.description])


def test_a_group_whose_fate_is_unknown_is_not_written_again(cities, statements) -> None:
    """The connection is lost under a group's statement: whether it committed is not
    known, so none of its rows is written again (that could store a report twice); every
    request of the group gets an error, as a lone insert's loss gives its request."""
    city, _ = cities
    statements.expected, statements.lose_groups = 4, True
    answers = _at_once(
        [(city, lambda n=n: report_submit(description=f"Report {n}", **POINT)) for n in range(4)]
    )
    sizes = statements.sizes
    assert len(sizes) >= 2 and sizes[1] > 1
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert len(failed) == sizes[1] and all(isinstance(a, DatabaseError) for a in failed), answers
    written = [a for a in answers if isinstance(a, SubmitResult)]
    # The lost group's rows are nowhere; the others were written once.
    assert len(written) == len(answers) - sizes[1]
    assert sorted(_stored(city).values()) == sorted(a.report.description for a in written)


def test_tenants_are_written_apart(cities, statements) -> None:
    first, second = cities
    statements.expected = 4
    calls = [(first, lambda n=n: report_submit(description=f"A {n}", **POINT)) for n in range(4)]
    calls += [(second, lambda n=n: report_submit(description=f"B {n}", **POINT)) for n in range(4)]
    answers = _at_once(calls)
    assert all(isinstance(a, SubmitResult) and a.created for a in answers), answers
    assert sorted(_stored(first).values()) == [f"A {n}" for n in range(4)]
    assert sorted(_stored(second).values()) == [f"B {n}" for n in range(4)]


def test_a_group_takes_at_most_its_share_and_the_rest_follow(cities, statements, monkeypatch) -> None:
    city, _ = cities
    monkeypatch.setattr(insert_group, "MAX_GROUP", 2)
    statements.expected = 6
    texts = [f"Graffiti number {n}" for n in range(6)]
    answers = _at_once([(city, lambda text=text: report_submit(description=text, **POINT)) for text in texts])
    assert all(isinstance(a, SubmitResult) and a.created for a in answers), answers
    assert max(statements.sizes) == 2 and sum(statements.sizes) == 6
    assert {a.report.pk: a.report.description for a in answers} == _stored(city)


def _raised_from(django_error: type[DatabaseError], cause: BaseException | None) -> DatabaseError:
    """A Django database error as Django's wrapper raises it: from the driver's error."""
    try:
        raise django_error("error") from cause
    except DatabaseError as exc:
        return exc


def test_only_a_lost_connection_leaves_a_groups_fate_unknown() -> None:
    unknown = insert_group._fate_unknown
    # The server answered that the statement failed: nothing was stored.
    assert not unknown(_raised_from(IntegrityError, psycopg.errors.UniqueViolation()))
    assert not unknown(_raised_from(OperationalError, psycopg.errors.QueryCanceled()))
    assert not unknown(_raised_from(OperationalError, psycopg.errors.DeadlockDetected()))
    # A value the client could not send (no SQLSTATE): nothing reached the server.
    assert not unknown(_raised_from(DataError, psycopg.DataError("NUL bytes")))
    # The connection failed or the server went away: it may have committed.
    assert unknown(_raised_from(OperationalError, psycopg.errors.AdminShutdown()))
    assert unknown(_raised_from(OperationalError, psycopg.errors.ConnectionFailure()))
    assert unknown(_raised_from(OperationalError, psycopg.OperationalError("server closed the connection")))
    assert unknown(KeyError("a row's id did not come back"))


def test_a_writer_that_hangs_holds_back_its_own_group_only(monkeypatch) -> None:
    """The first writer never returns (until the test lets it): rows queued behind it
    for longer than the wait write the queue themselves, together, and return."""
    monkeypatch.setattr(insert_group, "QUEUE_WAIT_SECONDS", 0.05)
    groups = insert_group._Groups()
    release, stuck = threading.Event(), threading.Event()
    written: list[list[str]] = []

    def write(rows: list) -> list[tuple[int, str]]:
        keys = [params[0] for params in rows]
        if keys == ["stuck"]:
            stuck.set()
            release.wait(10)
        written.append(keys)
        return [(n, key) for n, key in enumerate(keys)]

    answers: dict[str, int | None] = {}

    def send(key: str) -> None:
        answers[key] = groups.insert("k", insert_group._Row([key], key), write)

    first = threading.Thread(target=send, args=("stuck",), daemon=True)
    first.start()
    assert stuck.wait(5)
    later = [threading.Thread(target=send, args=(key,), daemon=True) for key in ("b", "c")]
    for thread in later:
        thread.start()
    for thread in later:
        thread.join(5)
    assert not any(thread.is_alive() for thread in later) and first.is_alive()
    assert sorted(key for group in written for key in group) == ["b", "c"]
    assert answers["b"] is not None and answers["c"] is not None
    # The stuck writer no longer leads: the next row finds no writer busy and writes at once.
    assert "k" not in groups._leading
    send("d")
    assert written[-1] == ["d"]
    release.set()
    first.join(5)
    assert answers["stuck"] == 0 and not groups._waiting and not groups._leading
