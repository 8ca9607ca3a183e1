"""IndexTTS-2's semantic codec (MaskGCT's RepCodec), the two halves inference uses.

`quantize`: a reference clip's w2v-BERT features → their nearest codebook entries, projected back
to feature space (s2mel's prompt condition). `embed`: semantic codes → the same feature space
(s2mel's condition for generated speech). The codec's decoder half is only for training: its
weights are in the file and not loaded. The checkpoint is `amphion/MaskGCT`'s
`semantic_codec/model.safetensors`, with weight-normed projections folded on load.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from indextts25.codec.models import VocosBackbone
from indextts25.utils.checkpoint import fold_weight_norm
from safetensors.torch import load_file
from torch import nn

_TRAINING_ONLY = ("decoder.",)


class _FactorizedQuantizer(nn.Module):
    """Low-dimensional codebook with L2-normalised (cosine) lookup."""

    def __init__(self, width: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.in_project = nn.Conv1d(width, codebook_dim, kernel_size=1)
        self.out_project = nn.Conv1d(codebook_dim, width, kernel_size=1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def nearest(self, features: torch.Tensor) -> torch.Tensor:
        """Codes (1, T) of features (1, width, T)."""
        encodings = F.normalize(
            self.in_project(features).transpose(1, 2).reshape(-1, self.codebook.embedding_dim)
        )
        codebook = F.normalize(self.codebook.weight)
        distance = (
            encodings.pow(2).sum(1, keepdim=True)
            - 2 * encodings @ codebook.t()
            + codebook.pow(2).sum(1, keepdim=True).t()
        )
        return (-distance).max(1)[1].reshape(features.size(0), -1)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """(1, width, T) for codes (1, T)."""
        return self.out_project(self.codebook(codes).transpose(1, 2))


class _ResidualQuantizer(nn.Module):
    """Holds the one factorized quantizer under the checkpoint's `quantizers.0` name."""

    def __init__(self, width: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.quantizers = nn.ModuleList([_FactorizedQuantizer(width, codebook_size, codebook_dim)])


class SemanticCodec(nn.Module):
    """Built from the `semantic_codec:` section of IndexTTS-2's config.yaml."""

    def __init__(
        self,
        *,
        codebook_size: int = 8192,
        hidden_size: int = 1024,
        codebook_dim: int = 8,
        vocos_dim: int = 384,
        vocos_intermediate_dim: int = 2048,
        vocos_num_layers: int = 12,
    ) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            VocosBackbone(hidden_size, vocos_dim, vocos_intermediate_dim, vocos_num_layers),
            nn.Linear(vocos_dim, hidden_size),
        )
        self.quantizer = _ResidualQuantizer(hidden_size, codebook_size, codebook_dim)

    @property
    def _quantizer(self) -> _FactorizedQuantizer:
        return self.quantizer.quantizers[0]

    def load(self, path: Path, device: torch.device | str) -> None:
        """Strict load of the safetensors file, skipping the training-only decoder."""
        weights = {
            k: v for k, v in load_file(str(path)).items() if not k.startswith(_TRAINING_ONLY)
        }
        self.load_state_dict(fold_weight_norm(weights, device))

    def quantize(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes (1, T) and their embeddings (1, T, width) for w2v-BERT features (1, T, width)."""
        encoded = self.encoder(features.transpose(1, 2)).transpose(1, 2)
        codes = self._quantizer.nearest(encoded)
        return codes, self.embed(codes)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """(1, T, width) features of codes (1, T)."""
        return self._quantizer.embed(codes).transpose(1, 2)
