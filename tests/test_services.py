"""Each real service answers: PostgreSQL migrations, the Redis cache, Neo4j through both drivers."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import neo4j
import pytest
from django.core.management import call_command
from django.db import connection

from musicbud import cache, graph


def test_django_system_checks_pass() -> None:
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
@pytest.mark.usefixtures("postgres_settings")
def test_migrations_applied_on_postgresql() -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'auth'")
        (applied,) = cursor.fetchone()
    assert applied > 0
    # Nothing left to migrate: the models and the migrations on disk agree.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.usefixtures("redis_settings")
async def test_a_value_round_trips_through_the_redis_cache(settings: Any) -> None:
    import redis

    key = f"test:{uuid.uuid4().hex}"
    await cache.write({key: b"[1, 2, 3]"}, ttl_s=30)
    assert (await cache.read([key]))[0] == [b"[1, 2, 3]"]
    # The value really lives in Redis, not in a process-local stand-in.
    assert redis.Redis.from_url(settings.REDIS_URL).exists(cache.KEY_PREFIX + key) == 1
    await cache.delete([key])
    assert (await cache.read([key]))[0] == [None]


@pytest.mark.usefixtures("neo4j_settings")
def test_neo4j_write_and_read_through_the_sync_driver() -> None:
    marker = uuid.uuid4().hex
    driver = graph.get_driver()
    driver.execute_query("CREATE (:HealthProbe {marker: $marker})", marker=marker)
    records, _, _ = driver.execute_query(
        "MATCH (p:HealthProbe {marker: $marker}) RETURN p.marker AS marker",
        marker=marker,
        routing_=neo4j.RoutingControl.READ,
    )
    assert [r["marker"] for r in records] == [marker]
    driver.execute_query("MATCH (p:HealthProbe {marker: $marker}) DELETE p", marker=marker)


@pytest.mark.usefixtures("neo4j_settings")
async def test_neo4j_write_and_read_through_the_async_driver() -> None:
    marker = uuid.uuid4().hex
    driver = graph.get_async_driver()
    try:
        await driver.execute_query("CREATE (:HealthProbe {marker: $marker})", marker=marker)
        async with driver.session() as session:
            result = await session.run("MATCH (p:HealthProbe {marker: $marker}) RETURN p.marker AS m", marker=marker)
            values = [record["m"] async for record in result]
        assert values == [marker]
        await driver.execute_query("MATCH (p:HealthProbe {marker: $marker}) DELETE p", marker=marker)
    finally:
        await graph.close_async_driver()


def test_lightfm_is_importable_with_its_openmp_extension() -> None:
    import lightfm  # noqa: F401

    assert "lightfm._lightfm_fast_openmp" in sys.modules
