"""The IndexTTS GPT's decode step over a preallocated KV cache, so its shapes never change.

transformers' GPT-2 grows its cache by concatenation: every step copies the whole cache (at 1000
codes on IndexTTS-2, ~0.5 GB per step), and the step's shapes change every time, so it cannot be
captured as a CUDA graph. `StaticGPT2` runs the same GPT-2 blocks (their own modules and weights:
layer norms, fused QKV, SDPA attention, MLP) over keys and values written in place into buffers
sized once per request. `GraphedStep` captures its fixed-shape step once per request on CUDA and
replays it per code: one launch instead of hundreds of kernels issued from Python.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import GPT2Model

from tts_plugin.engine import EngineError


class StaticGPT2:
    """One request's keys and values for `rows` sequences of at most `capacity` positions."""

    def __init__(self, gpt: GPT2Model, rows: int, capacity: int, *, zeroed: bool = False) -> None:
        """`zeroed` buffers for the masked step (a masked-out NaN would still poison the
        weighted sum); the sliced step never reads a slot it has not written."""
        self._gpt = gpt
        self._rows, self.capacity = rows, capacity
        self._heads = gpt.config.n_head
        self._head_dim = gpt.config.n_embd // self._heads
        self._zeroed = zeroed
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self.length = 0  # positions written
        # The masked step's position, a device tensor so that a captured graph reads it at replay.
        self.position = torch.zeros(1, dtype=torch.long, device=gpt.ln_f.weight.device)
        self._slots = torch.arange(capacity, device=gpt.ln_f.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states after the final norm for embeddings x (r, n, d) at the next n positions.

        r is 1 or `rows`: one row's keys are written to every row, so a shared prefix runs once.
        More than one position at a time only from an empty cache (the prefix), causally.
        """
        self._check(x.size(1))
        hidden = _blocks(self._gpt, x, lambda layer, q, k, v: self._attend(layer, q, k, v))
        self.length += x.size(1)
        return hidden

    def _check(self, n: int) -> None:
        if n > 1 and self.length:
            raise EngineError("static KV cache: several positions at once only from empty")
        if self.length + n > self.capacity:
            raise EngineError(
                f"static KV cache: {self.length + n} positions, room for {self.capacity}"
            )

    def _attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Write k, v at the next positions and attend over everything written so far."""
        n, start = q.size(2), self.length
        end = start + n
        keys, values = self._cache(layer, k)
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        rows = q.size(0)
        return F.scaled_dot_product_attention(
            q, keys[:rows, :, :end], values[:rows, :, :end], is_causal=n > 1
        )

    def masked_step(self, x: torch.Tensor) -> torch.Tensor:
        """One position for every row, at `self.position`, attending over the whole buffer with a
        mask: no shape depends on the position, so the step can be captured as a CUDA graph.
        Does not advance `length` (a replay does not run Python)."""
        if not self._keys:
            raise EngineError("static KV cache: run the prefix first")
        visible = (self._slots <= self.position).view(1, 1, 1, -1)

        def attend(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            keys, values = self._keys[layer], self._values[layer]
            keys.index_copy_(2, self.position, k)
            values.index_copy_(2, self.position, v)
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)

        return _blocks(self._gpt, x, attend)

    def _cache(self, layer: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer `layer`'s buffers, allocated at the first write in the dtype the step computes
        (fp16/bf16 under autocast). Unzeroed CPU buffers cost no memory until written."""
        if len(self._keys) <= layer:
            shape = (self._rows, self._heads, self.capacity, self._head_dim)
            new = torch.zeros if self._zeroed else torch.empty
            self._keys.append(new(shape, dtype=like.dtype, device=like.device))
            self._values.append(new(shape, dtype=like.dtype, device=like.device))
        return self._keys[layer], self._values[layer]


def batched_step(caches: list[StaticGPT2], xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """One position for several requests' caches on one model in one pass: the weights are read
    once for every row (the step is bound by reading them), each request attends over its own
    keys and values at its own length. The hidden states of each request, in order."""
    rows = [x.size(0) for x in xs]
    for cache, x in zip(caches, xs, strict=True):
        cache._check(x.size(1))

    def attend(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        parts = zip(caches, q.split(rows), k.split(rows), v.split(rows), strict=True)
        return torch.cat([cache._attend(layer, *qkv) for cache, *qkv in parts])

    hidden = _blocks(caches[0]._gpt, torch.cat(xs), attend)
    for cache in caches:
        cache.length += 1
    return list(hidden.split(rows))


def _blocks(gpt: GPT2Model, x: torch.Tensor, attend) -> torch.Tensor:
    """GPT-2's blocks (pre-norm attention and MLP, residuals) and final norm, as transformers
    computes them in eval mode, with the cache handled by `attend(layer, q, k, v)`."""
    rows, n, width = x.shape
    heads = gpt.config.n_head
    for layer, block in enumerate(gpt.h):
        q, k, v = block.attn.c_attn(block.ln_1(x)).split(width, dim=2)
        q, k, v = (t.view(rows, n, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        attended = attend(layer, q, k, v).transpose(1, 2).reshape(rows, n, width)
        x = x + block.attn.c_proj(attended)
        x = x + block.mlp(block.ln_2(x))
    return gpt.ln_f(x)


class GraphedStep:
    """`StaticGPT2.masked_step` captured once as a CUDA graph and replayed for every code.

    The graph reads its input and position from fixed buffers and writes the cache in place, so a
    replay is exactly the eager masked step. Autocast (fp16/bf16 GPT) is captured with its weight
    cache off, as CUDA graphs require.
    """

    def __init__(self, static: StaticGPT2, example: torch.Tensor) -> None:
        self._static = static
        self._input = example.clone()
        static.position.fill_(static.length)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), _graph_safe_autocast():
            for _ in range(2):  # kernels chosen and workspaces allocated before capture
                static.masked_step(self._input)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph), _graph_safe_autocast():
            self._output = static.masked_step(self._input)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The step for x (rows, 1, d) at the next position; the result is the caller's own."""
        static = self._static
        if static.length >= static.capacity:
            raise EngineError(f"static KV cache: room for {static.capacity} positions")
        self._input.copy_(x)
        static.position.fill_(static.length)
        self._graph.replay()
        static.length += 1
        return self._output.clone()


def _graph_safe_autocast():
    enabled = torch.is_autocast_enabled("cuda")
    dtype = torch.get_autocast_dtype("cuda")
    return torch.autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=False)


class Stepper:
    """A request's GPT: the prefix eagerly, then each code's step, graphed where asked."""

    def __init__(self, gpt: GPT2Model, rows: int, capacity: int, *, graphs: bool) -> None:
        self.static = StaticGPT2(gpt, rows, capacity, zeroed=graphs)
        self._graphs = graphs
        self._graphed: GraphedStep | None = None

    def prefix(self, x: torch.Tensor) -> torch.Tensor:
        return self.static.forward(x)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        if not self._graphs:
            return self.static.forward(x)
        if self._graphed is None:
            self._graphed = GraphedStep(self.static, x)
        return self._graphed(x)
