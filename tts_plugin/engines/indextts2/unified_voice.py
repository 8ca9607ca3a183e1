"""IndexTTS-2's GPT ("UnifiedVoice"): text and a voice in, semantic codes and their latents out.

IndexTTS-2 conditions the GPT on the reference clip's w2v-BERT features through a Conformer and a
Perceiver (32 latents, plus the emotion vector), followed by two "speed" embeddings; text tokens
come from a SentencePiece vocabulary with no language embedding. (IndexTTS-2.5 replaced all that
with one CAMPPlus projection.) s2mel reads the GPT's final-norm hidden states ("latents") beside
the codes: upstream recomputes them with a second, teacher-forced pass over all codes
(`teacher_forced_latents`, kept to prove the equality); `CodeDecoder` computes each one within
the decode step that feeds its code, so streaming never re-runs the GPT over all codes.

Module names match IndexTTS-2's `gpt.pth`, which loads strictly (its training-only `text_head`
is not built). The Conformer and Perceiver blocks are `indextts25-inference`'s, whose keys and
maths are upstream's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from indextts25.gpt.conformer_encoder import ConformerEncoder
from indextts25.gpt.perceiver import PerceiverResampler
from torch import nn
from transformers import GPT2Config, GPT2Model

from tts_plugin.engine import EngineError
from tts_plugin.engines.indextts2.static_kv import PooledCache

W2V_WIDTH = 1024  # w2v-BERT 2.0 features, fixed by the released checkpoints
SPEED_NORMAL, SPEED_HALF = 0, 1  # the two rows of `speed_emb`; inference always uses both


class PositionEmbedding(nn.Module):
    """Learned absolute positions (the GPT-2 transformer's own are switched off)."""

    def __init__(self, positions: int, width: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(positions, width)

    def forward(self, start: int, count: int) -> torch.Tensor:
        index = torch.arange(start, start + count, device=self.emb.weight.device)
        return self.emb(index).unsqueeze(0)


def _transformer(layers: int, width: int, heads: int) -> GPT2Model:
    """transformers' GPT-2 without token or position embeddings: inputs arrive embedded."""
    config = GPT2Config(
        vocab_size=1, n_positions=1, n_embd=width, n_layer=layers, n_head=heads,
        use_cache=True, bos_token_id=None, eos_token_id=None,
    )  # fmt: skip
    gpt = GPT2Model(config)
    del gpt.wte, gpt.wpe
    gpt.wte = None
    gpt.wpe = _NoPositions()
    return gpt


class _NoPositions(nn.Module):
    """Stands in for GPT-2's position table: positions are added before the transformer."""

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros((), device=position_ids.device)


def _conformer(module: dict) -> ConformerEncoder:
    return ConformerEncoder(
        input_size=W2V_WIDTH,
        output_size=module["output_size"],
        linear_units=module["linear_units"],
        attention_heads=module["attention_heads"],
        num_blocks=module["num_blocks"],
        input_layer=module["input_layer"],
    )


def _perceiver(width: int, module: dict, latents: int) -> PerceiverResampler:
    return PerceiverResampler(
        width,
        dim_context=module["output_size"],
        ff_mult=module["perceiver_mult"],
        heads=module["attention_heads"],
        num_latents=latents,
    )


class UnifiedVoiceV2(nn.Module):
    """The v2 GPT, built from the `gpt:` section of IndexTTS-2's config.yaml."""

    def __init__(
        self,
        *,
        layers: int,
        model_dim: int,
        heads: int,
        max_text_tokens: int,
        max_mel_tokens: int,
        number_text_tokens: int,
        number_mel_codes: int,
        start_text_token: int,
        stop_text_token: int,
        start_mel_token: int,
        stop_mel_token: int,
        condition_module: dict,
        emo_condition_module: dict,
        condition_num_latent: int = 32,
        max_conditioning_inputs: int = 1,
        **_training_only,
    ) -> None:
        super().__init__()
        self.start_text_token, self.stop_text_token = start_text_token, stop_text_token
        self.start_mel_token, self.stop_mel_token = start_mel_token, stop_mel_token
        self.conditioning_encoder = _conformer(condition_module)
        self.perceiver_encoder = _perceiver(model_dim, condition_module, condition_num_latent)
        self.speed_emb = nn.Embedding(2, model_dim)
        self.emo_conditioning_encoder = _conformer(emo_condition_module)
        self.emo_perceiver_encoder = _perceiver(W2V_WIDTH, emo_condition_module, 1)
        self.emovec_layer = nn.Linear(W2V_WIDTH, model_dim)
        self.emo_layer = nn.Linear(model_dim, model_dim)
        self.text_embedding = nn.Embedding(number_text_tokens + 1, model_dim)
        self.mel_embedding = nn.Embedding(number_mel_codes, model_dim)
        self.gpt = _transformer(layers, model_dim, heads)
        self.mel_pos_embedding = PositionEmbedding(
            max_mel_tokens + 2 + max_conditioning_inputs, model_dim
        )
        self.text_pos_embedding = PositionEmbedding(max_text_tokens + 2, model_dim)
        self.final_norm = nn.LayerNorm(model_dim)
        self.mel_head = nn.Linear(model_dim, number_mel_codes)

    # ---- conditioning -----------------------------------------------------------------------

    def speaker_latents(self, features: torch.Tensor) -> torch.Tensor:
        """The voice's 32 conditioning latents (1, 32, d) from its w2v-BERT features (1, T, 1024)."""
        encoded, mask = self.conditioning_encoder(features, _lengths(features))
        latents_mask = F.pad(
            mask.squeeze(1), (self.perceiver_encoder.latents.size(0), 0), value=True
        )
        return self.perceiver_encoder(encoded, latents_mask)

    def emotion_vector(self, features: torch.Tensor) -> torch.Tensor:
        """A clip's emotion as the GPT sees it (1, d), from its w2v-BERT features."""
        encoded, mask = self.emo_conditioning_encoder(features, _lengths(features))
        pooled = self.emo_perceiver_encoder(encoded, F.pad(mask.squeeze(1), (1, 0), value=True))
        return self.emo_layer(self.emovec_layer(pooled.squeeze(1)))

    def conditioning(self, speaker_latents: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """[speaker latents + emotion][half-speed][normal-speed] (1, 34, d), as upstream builds it."""
        speeds = self.speed_emb(torch.tensor([[SPEED_HALF, SPEED_NORMAL]], device=emotion.device))
        return torch.cat([speaker_latents + emotion.unsqueeze(1), speeds], 1)

    # ---- text and codes ---------------------------------------------------------------------

    def text_embeddings(self, tokens: torch.Tensor, *, strip_markers: bool = True) -> torch.Tensor:
        """[start][text][stop] embedded with positions; generation drops start/stop ids inside
        the text first (as upstream's `prepare_gpt_inputs`), the teacher-forced pass does not."""
        ids = tokens[0]
        if strip_markers:
            ids = ids[(ids != self.start_text_token) & (ids != self.stop_text_token)]
        ids = F.pad(
            F.pad(ids, (1, 0), value=self.start_text_token), (0, 1), value=self.stop_text_token
        )
        return self.text_embedding(ids).unsqueeze(0) + self.text_pos_embedding(0, ids.numel())

    def code_embeddings(self, codes: torch.Tensor, start: int) -> torch.Tensor:
        """Codes (1, n) embedded at mel positions start.. (the start code sits at position 0)."""
        return self.mel_embedding(codes) + self.mel_pos_embedding(start, codes.size(1))

    def teacher_forced_latents(
        self, conditioning: torch.Tensor, tokens: torch.Tensor, codes: torch.Tensor
    ) -> torch.Tensor:
        """Upstream's second pass: the latents (1, n, d) of all n codes at once."""
        start = torch.full((1, 1), self.start_mel_token, device=codes.device, dtype=codes.dtype)
        stop = torch.full((1, 1), self.stop_mel_token, device=codes.device, dtype=codes.dtype)
        mel = self.code_embeddings(torch.cat([start, codes, stop], 1), 0)
        text = self.text_embeddings(tokens, strip_markers=False)
        hidden = self.gpt(inputs_embeds=torch.cat([conditioning, text, mel], 1)).last_hidden_state
        return self.final_norm(hidden[:, -mel.size(1) :])[:, :-2]


def _lengths(features: torch.Tensor) -> torch.Tensor:
    # Upstream passes the feature width (1024) as the length, which masks nothing for clips
    # under 20 s; clips are cut at 15 s, so the true length is the same mask.
    return torch.tensor([features.size(1)], device=features.device)


class CodeDecoder:
    """One request's incremental GPT state: feed codes one by one, read logits and latents.

    Upstream's generate() positions each fed code one place later than its second pass (and
    training) does: the position is the attention mask's length, which already counts the code.
    To sample exactly as upstream and still hand s2mel the second pass's latents, every step runs
    two rows in one batch over a shared prefix: row 0 at generate()'s positions gives the logits,
    row 1 at the second pass's positions gives the latent. Its keys and values live in a slot of
    the model's pool (`static_kv.py`), so requests interleave on one shared model.
    """

    def __init__(
        self,
        gpt: UnifiedVoiceV2,
        conditioning: torch.Tensor,
        tokens: torch.Tensor,
        *,
        max_codes: int,
        cache: PooledCache,
    ) -> None:
        self._gpt = gpt
        self._prefix = torch.cat([conditioning, gpt.text_embeddings(tokens)], 1)
        self.latents: list[torch.Tensor] = []  # latents[i] belongs to code i
        # The prefix, the start code, then one position per code fed back.
        room = cache.capacity - self._prefix.size(1) - 1
        if room < 1:
            raise EngineError(f"a text segment of {tokens.size(1)} tokens outgrows the KV pool")
        self.capacity = min(max_codes, gpt.mel_pos_embedding.emb.num_embeddings - 3, room)
        self._cache = cache
        # The ids upstream's generate() sees (placeholders, then the start code): its
        # repetition penalty counts them, so ours does too.
        self.history = torch.ones(
            (1, self._prefix.size(1) + 1), dtype=torch.long, device=self._prefix.device
        )
        self.history[0, -1] = gpt.start_mel_token

    def start(self) -> torch.Tensor:
        """Run the prefix and the start code (position 0 in both rows); the first code's logits."""
        start = torch.tensor([[self._gpt.start_mel_token]], device=self._prefix.device)
        embeddings = torch.cat([self._prefix, self._gpt.code_embeddings(start, 0)], 1)
        latent = self._gpt.final_norm(self._cache.prefix(embeddings)[:, -1:])
        self.latents.append(latent)
        return self._gpt.mel_head(latent)[:, -1]

    @property
    def cache(self) -> PooledCache:
        return self._cache

    def step(self, code: torch.Tensor) -> torch.Tensor:
        """Feed the code just sampled (1, 1); the logits of the next one."""
        return self.step_output(self._cache.step(self.step_input(code)))

    def step_input(self, code: torch.Tensor) -> torch.Tensor:
        """The step's two rows (2, 1, d): the code at generate()'s and at the second pass's place."""
        index = len(self.latents) - 1  # of `code` among the codes
        return torch.cat(
            [self._gpt.code_embeddings(code, index + 2), self._gpt.code_embeddings(code, index + 1)]
        )

    def step_output(self, hidden: torch.Tensor) -> torch.Tensor:
        """Keep row 1's latent; row 0's logits (1, V)."""
        hidden = self._gpt.final_norm(hidden)
        self.latents.append(hidden[1:])
        return self._gpt.mel_head(hidden[:1])[:, -1]
