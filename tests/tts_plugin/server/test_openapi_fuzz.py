"""Schemathesis against the TTS server's own OpenAPI schema: no 5xx, no response off the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from scripted_engine import ScriptedEngine
from test_speech_api import serving

from tts_plugin.server.app import create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    app = create_app(
        ScriptedEngine(chunks=2, steps_per_chunk=1, step_seconds=0.001),
        voices_dir=tmp_path_factory.mktemp("voices"),
        token="fuzz-token",
    )
    with serving(app) as port:
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_schema_under_fuzzing(case):
    # Every other check runs. A schema-valid request may still name a voice, preset or language
    # this engine lacks: that is a documented 400, not a schema fault, so "valid data must be
    # accepted" does not apply.
    case.call_and_validate(timeout=20, excluded_checks=[positive_data_acceptance])
