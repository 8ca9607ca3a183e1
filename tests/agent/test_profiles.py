"""Profiles build the engine they name: the GPU profile switches to IndexTTS2 with one flag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.config import ConfigError, load_config
from agent.runtime import engine_settings
from tts_plugin.engine import EngineError
from tts_plugin.engine_factory import create_engine


@pytest.mark.parametrize("generation", ["2.5", "2"])
def test_the_gpu_profile_builds_the_indextts2_engine(request, generation):
    model_dir = request.getfixturevalue(
        "tiny_indextts25" if generation == "2.5" else "tiny_indextts2"
    )
    config = load_config(
        "indextts2-gpu", [f"tts.model_dir={model_dir}", "tts.device=cpu"], environ={}
    )
    engine = create_engine(engine_settings(config))
    assert engine.name == "indextts2" and engine.generation == f"IndexTTS-{generation}"
    assert engine.capabilities.voice_cloning


def test_the_gpu_profile_without_checkpoints_says_what_is_missing(tmp_path):
    config = load_config("indextts2-gpu", [f"tts.model_dir={tmp_path}"], environ={})
    with pytest.raises(EngineError, match="not an IndexTTS model dir"):
        create_engine(engine_settings(config))
    with pytest.raises(ConfigError, match="diffusion_steps"):
        load_config("indextts2-gpu", ["tts.diffusion_steps=0"], environ={})


def test_the_agent_refuses_missing_checkpoints_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "agent", "--profile", "indextts2-gpu",
         "--set", f"tts.model_dir={tmp_path / 'none'}", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "IndexTTS model dir not found" in result.stderr and "Traceback" not in result.stderr


def test_a_set_value_that_is_not_yaml_is_a_clear_error_and_quoting_works():
    with pytest.raises(ConfigError, match="--set llm.system_prompt=.*quote text"):
        load_config("embedded", ["llm.system_prompt=Be brief: User: hi Ada: hello"], environ={})
    quoted = load_config("embedded", ["llm.system_prompt='Be brief: say hi.'"], environ={})
    assert quoted.llm.system_prompt == "Be brief: say hi."
