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
    connection.set_tenant(beta)
    with pytest.raises(RuntimeError):
        with transaction.atomic():  # a savepoint inside the test's transaction
            assert _schema(connection) == "beta-hotel"  # the SET happens in here...
            raise RuntimeError("rolled back")
    # ...and was undone with it: the next cursor sets it again.
    assert _schema(connection) == "beta-hotel"
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
