"""Schemathesis through its Python API, so the fuzz tests need no pytest plugin internals.

Schemathesis's pytest plugin (`schemathesis.pytest.from_fixture`) reaches into pytest's private
item attributes and broke on pytest 9.2 ('Function' object has no attribute '_nodeid'). Driving
each operation's Hypothesis strategy from a plain test works with any pytest.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance


def fuzz_openapi(schema_url: str, max_examples: int) -> list[str]:
    """Fuzz every operation of the schema at `schema_url` with valid and invalid requests; each
    answer must keep the schema (no 5xx, documented status and body). Returns the operations."""
    schema = schemathesis.openapi.from_url(schema_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        cases = st.one_of(operation.as_strategy(mode) for mode in GenerationMode)

        @given(case=cases)
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def keeps_schema(case) -> None:
            # A schema-valid request may still name a voice, preset or language the engine lacks,
            # or carry an SDP that is no WebRTC offer: a documented 400, not a schema fault.
            case.call_and_validate(timeout=20, excluded_checks=[positive_data_acceptance])

        try:
            keeps_schema()
        except Exception as error:
            error.add_note(f"while fuzzing {operation.label}")
            raise
    return [operation.label for operation in operations]
