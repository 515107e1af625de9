import pytest

from tests.reliability.helpers import wait_for_drops


@pytest.fixture(scope="session", autouse=True)
def _drop_scratch_databases():
    """Scratch PostgreSQL databases are dropped in the background; wait for them at the end."""
    yield
    wait_for_drops()
