"""What the streaming engine needs from an IndexTTS generation (IndexTTS-2 or IndexTTS-2.5).

Both generations share the pipeline shape — reference conditioning, a GPT that decodes semantic
codes one by one, codes → features → length regulator → flow-matching DiT → BigVGAN — but differ
in the text front end, the GPT's conditioning and what becomes s2mel's input. The engine streams
through this contract; `v2_models.py` and `v25_models.py` implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Voice:
    """A reference clip's conditioning: computed once, reused by every request in that voice."""

    speaker_features: object  # w2v-BERT features (1, T, 1024), resampled as upstream does
    own_emotion: object  # the clip's w2v-BERT features as an emotion reference (16 kHz load)
    style: object  # CAMPPlus speaker style (1, 192)
    gpt_speaker: object  # the GPT's speaker conditioning (1, n, d)
    prompt_condition: object  # s2mel condition of the reference (1, T_mel, C)
    reference_mel: object  # (1, 80, T_mel)
    key: tuple = ()  # the clip's (path, mtime), set by the engine's voice cache


class CodeDecoder(Protocol):
    """One request's incremental GPT state over the shared model."""

    history: object  # the ids generate() would see: the repetition penalty counts them
    capacity: int  # the most codes the model has positions for

    def start(self) -> object:
        """Run the prefix and the start code; the logits (1, V) of the first code."""

    def step(self, code: object) -> object:
        """Feed the code just sampled (1, 1); the logits of the next one."""

    # The step in three parts, so that a batch of requests can share the transformer's pass
    # (`KVPool.step` over each request's `cache`): step = output(pass(input(code))).
    cache: object  # this request's slot of the model's KV pool (a `static_kv.PooledCache`)

    def step_input(self, code: object) -> object:
        """The embedded rows (r, 1, d) the transformer takes for this code."""

    def step_output(self, hidden: object) -> object:
        """The next code's logits (1, V) from the transformer's output rows."""


class Generation(Protocol):
    """The loaded models of one IndexTTS generation."""

    label: str
    device: str
    dtype: object  # the GPT's autocast dtype, or None
    cuda_graphs: bool  # decode steps replay CUDA graphs captured at load
    pool: object  # the GPT's KV pool (`static_kv.KVPool`): max_batch slots, allocated at load
    mel_frames_per_code: float
    stop_code: int
    codebook_size: int  # semantic codes the codec decodes: ids 0 .. codebook_size - 1
    languages: tuple[str, ...]
    spk_matrix: tuple  # per emotion: speaker styles of its prototypes
    emo_matrix: tuple  # per emotion: the prototypes' emotion vectors
    s2mel: object  # {"cfm": the flow-matching DiT, "length_regulator": ...}
    bigvgan: object

    def load_text_normalizer(self) -> bool:
        """Make the text normaliser ready now (no request waits for its grammars); False, after
        a WARNING, when upstream's is missing and a fallback normalises."""

    def segments(self, text: str, language: str, first: int, rest: int, normalize: bool) -> list:
        """Token tensors (1, n) per text segment, the first one at most `first` tokens."""

    def voice(self, clip: Path, key: tuple) -> Voice: ...

    def emotion_features(self, clip: Path, key: tuple) -> object:
        """w2v-BERT features of an emotion reference clip."""

    def emotion_vector(self, voice: Voice, emotion_features: object, alpha: float) -> object:
        """The GPT's emotion (1, d): the voice's own blended toward the reference by `alpha`."""

    def decoder(
        self,
        voice: Voice,
        emotion: object,
        tokens: object,
        language: str,
        max_codes: int,
        cache: object = None,
    ) -> CodeDecoder:
        """A request's decoder for at most `max_codes`, its keys and values in `cache` (a slot
        of `pool`; None: the next free one)."""

    def code_features(self, decoder: CodeDecoder, codes: list[int]) -> object:
        """s2mel's input features (1, T, 1024) for `codes`, the segment's first codes."""
