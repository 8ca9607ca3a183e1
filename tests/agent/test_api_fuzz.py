"""Schemathesis against the voice agent's own API (/api/offer POST and PATCH, /health): no 5xx, no
hang, no response off the schema, and the agent still takes a session afterwards."""

from __future__ import annotations

import pytest
from schema_fuzz import fuzz_openapi

pytestmark = pytest.mark.slow


def test_the_agent_api_keeps_its_schema_under_fuzzing(running_agent):
    fuzzed = fuzz_openapi(f"{running_agent.url}/openapi.json", max_examples=40)
    assert {"POST /api/offer", "PATCH /api/offer", "GET /health"} <= set(fuzzed)
