"""schemathesis over /api/openapi.json against a real server: no 5xx, every answer matches its schema.

Bounded: a few examples per operation (SCHEMA_EXAMPLES, default 12) and a per-test time cap. Every default
check runs except `positive_data_acceptance`: lib validates meaning beyond the JSON schema (a tool message needs
its tool_call_id, some message must have text, an endpoint must exist) and answers those with a 400 naming
the field, which that check would count as a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lib import db
from lib.api import clear_token_cache, create_api
from lib.client import ensure_defaults
from lib.client.model_client import reset_clients
from tests.actors import ADMIN
from tests.api.conftest import make_token, seed_support, start_server

EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "12"))
schema = schemathesis.openapi.from_dict(create_api().openapi())


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template):
    path = tmp_path_factory.mktemp("schema") / "wb.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    with db.session_scope(engine) as s:
        ensure_defaults(s, actor=ADMIN)
    seed_support(engine)
    clear_token_cache()
    token = make_token(engine, "fuzz", "write", rpm=1_000_000)
    srv = start_server(engine)
    yield srv, {"Authorization": f"Bearer {token}"}
    srv.stop()
    reset_clients()
    engine.dispose()


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, live):
    srv, headers = live
    case.call_and_validate(base_url=srv.url, headers=headers, excluded_checks=[positive_data_acceptance])
