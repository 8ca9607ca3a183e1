"""Schemathesis against the TTS server's own OpenAPI schema: no 5xx, no response off the schema."""

from __future__ import annotations

from schema_fuzz import fuzz_openapi
from scripted_engine import ScriptedEngine
from test_speech_api import serving

from tts_plugin.server.app import create_app


def test_the_api_keeps_its_schema_under_fuzzing(tmp_path):
    app = create_app(
        ScriptedEngine(chunks=2, steps_per_chunk=1, step_seconds=0.001),
        voices_dir=tmp_path / "voices",
        token="fuzz-token",
    )
    with serving(app) as port:
        fuzzed = fuzz_openapi(f"http://127.0.0.1:{port}/openapi.json", max_examples=30)
        assert "POST /v1/audio/speech" in fuzzed
        assert "PUT /v1/voices/{name}" in fuzzed
