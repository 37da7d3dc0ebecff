import pytest

from backoffice.audit import system_user


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Unit and integration tests run Celery eagerly; the worker test switches this off itself."""
    from backoffice.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def actor(db):
    return system_user()
