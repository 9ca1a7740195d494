"""The search_path is set once per connection and tenant (TENANT_LIMIT_SET_CALLS), and a
rolled-back transaction, which undoes a SET made inside it, never leaves a connection
reading another tenant's tables."""

import pytest
from django.db import connection, connections, transaction


def _schema(conn) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_one_set_per_tenant_switch(tenant_a, django_assert_num_queries) -> None:
    _schema(connection)
    with django_assert_num_queries(2):  # two statements, no SET before either
        _schema(connection)
        _schema(connection)


def test_a_savepoint_rolled_back_in_another_tenant_leaves_the_right_path(tenant_pair, db) -> None:
    alpha, beta = tenant_pair
    connection.set_tenant(alpha)
    assert _schema(connection) == "alpha"
    with pytest.raises(RuntimeError):
        with transaction.atomic():  # a savepoint inside the test's transaction
            connection.set_tenant(beta)
            assert _schema(connection) == "beta-hotel"  # the SET happens in here...
            raise RuntimeError("rolled back")
    # ...and was undone with it (the session is back on alpha's path): the next cursor
    # sets it again, also when the next request chooses beta afresh.
    assert _schema(connection) == "beta-hotel"
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            connection.set_tenant(alpha)
            assert _schema(connection) == "alpha"
            raise RuntimeError("rolled back")
    connection.set_schema_to_public()
    connection.set_tenant(alpha)  # the path the rolled-back savepoint had set
    assert _schema(connection) == "alpha"
    connection.set_schema_to_public()


def test_a_transaction_rolled_back_in_another_tenant_leaves_the_right_path(tenant_pair, db) -> None:
    alpha, beta = tenant_pair
    conn = connections.create_connection("default")  # its own session, outside the test's transaction
    try:
        conn.set_tenant(alpha)
        assert _schema(conn) == "alpha"  # autocommit: this SET stays
        conn.set_tenant(beta)
        conn.set_autocommit(False)
        assert _schema(conn) == "beta-hotel"  # this SET is inside the transaction...
        conn.rollback()  # ...which takes it back to alpha's path
        conn.set_autocommit(True)
        assert _schema(conn) == "beta-hotel"
        conn.set_autocommit(False)
        conn.set_tenant(alpha)
        assert _schema(conn) == "alpha"  # set inside a transaction...
        conn.rollback()  # ...and undone: the session holds beta's path again
        conn.set_autocommit(True)
        conn.set_schema_to_public()
        conn.set_tenant(alpha)  # the next request, for the tenant the rollback undid
        assert _schema(conn) == "alpha"
    finally:
        conn.close()


def test_choosing_the_tenant_already_set_sends_no_set(tenant_pair, db, django_assert_num_queries) -> None:
    """A connection kept between requests: the next request switches to the public schema
    to resolve its tenant, then chooses it, and sends no SET when the session's path is
    already that tenant's; another tenant's request does."""
    alpha, beta = tenant_pair
    connection.set_tenant(alpha)
    assert _schema(connection) == "alpha"
    connection.set_schema_to_public()  # the tenant resolved without a query (cached)
    connection.set_tenant(alpha)
    with django_assert_num_queries(1):
        assert _schema(connection) == "alpha"
    connection.set_tenant(beta)
    with django_assert_num_queries(2):  # the SET, then the statement
        assert _schema(connection) == "beta-hotel"
    connection.set_tenant(alpha)
    with django_assert_num_queries(2):
        assert _schema(connection) == "alpha"
    connection.set_schema_to_public()


def test_a_path_set_by_hand_is_not_trusted(tenant_pair, db) -> None:
    """SET LOCAL behind the backend's back (the schema clone does): the backend is told,
    and the next statement for the remembered tenant sets its path again."""
    alpha, _ = tenant_pair
    connection.set_tenant(alpha)
    assert _schema(connection) == "alpha"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL search_path = public")
    connection.search_path_forget()
    connection.set_schema_to_public()
    connection.set_tenant(alpha)
    assert _schema(connection) == "alpha"
    connection.set_schema_to_public()
