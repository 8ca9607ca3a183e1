"""The IndexTTS GPT's decode steps over one preallocated pool of keys and values: fixed shapes.

transformers' GPT-2 grows its cache by concatenation: every step copies the whole cache (at 1000
codes on IndexTTS-2, ~0.5 GB per step), and its shapes change every step, so it cannot be captured as
a CUDA graph. `KVPool` holds the keys and values of `slots` requests (the engine's `max_batch`), each
`rows` sequences (IndexTTS-2 steps two, 2.5 one) of `capacity` positions, allocated once at load. A
request takes a slot for a text segment (`PooledCache`) and gives it back when it stops; slots stay
packed (the last request moves into a freed slot), so the requests decoding are the first few.

A request's prefix runs over its slot eagerly. Every decode step, one request's or a batch's, is one
bucket step: the rows of the first B slots (B the smallest of 1, 2, 4, … up to `slots` that covers the
stepping requests), each at its own position, attending over its own buffer through a mask. A slot in
the bucket that is not stepping (its request is vocoding) gets a zero row whose key and value land at
the buffer's last position, which its request only reads after writing it there itself. No shape
depends on the positions, so on CUDA each bucket's step is captured once at load as a CUDA graph (on
the model's device, capturing only this thread's work, checked against the eager step) and replayed
for every step; on a CPU the same bucket step runs eagerly: exactly what a graph replays. The GPT-2
blocks are the model's own modules (layer norms, fused QKV, SDPA attention, MLP) and weights.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from transformers import GPT2Model

from tts_plugin.engine import EngineError

SLOT_WAIT_SECONDS = 60.0


def buckets(slots: int) -> list[int]:
    """The batch sizes a step is padded to: 1, 2, 4, … and `slots` itself."""
    sizes, size = [], 1
    while size < slots:
        sizes.append(size)
        size *= 2
    return [*sizes, slots]


class PooledCache:
    """One request's slot in the pool: where its keys and values live, and how many are written."""

    def __init__(self, pool: KVPool, slot: int) -> None:
        self.pool, self.slot = pool, slot
        self.length = 0  # positions written

    @property
    def capacity(self) -> int:
        return self.pool.capacity

    def prefix(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states after the final norm for the prefix embeddings x (r, n, d), r 1 or
        `rows` (one row's keys are written to every row, so a shared prefix runs once)."""
        return self.pool.prefix(self, x)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """This request's step alone: its rows (rows, 1, d) at the next position."""
        return self.pool.step([self], [x])[0]

    def release(self) -> None:
        self.pool.release(self)


class _Graph:
    """One bucket's step captured as a CUDA graph, with the buffers it reads and writes."""

    def __init__(self, pool: KVPool, size: int) -> None:
        self.input = torch.zeros(
            size, pool.rows, 1, pool.width, dtype=pool.dtype, device=pool.device
        )
        self.positions = torch.full((size,), pool.capacity - 1, device=pool.device)
        side = torch.cuda.Stream(pool.device)
        side.wait_stream(torch.cuda.current_stream(pool.device))
        with torch.cuda.stream(side), _graph_safe_autocast():
            for _ in range(2):  # kernels chosen and workspaces allocated before capture
                pool.bucket_step(self.input, self.positions)
        torch.cuda.current_stream(pool.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with (
            torch.cuda.graph(self.graph, capture_error_mode="thread_local"),
            _graph_safe_autocast(),
        ):
            self.output = pool.bucket_step(self.input, self.positions)

    def __call__(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.input.copy_(x)
        self.positions.copy_(positions)
        self.graph.replay()
        return self.output.clone()


class KVPool:
    """Keys and values of `slots` requests on one GPT, allocated once, and their decode steps."""

    def __init__(
        self, gpt: GPT2Model, slots: int, rows: int, capacity: int, dtype: torch.dtype | None
    ) -> None:
        if slots < 1:
            raise EngineError(f"the KV pool needs at least one slot, got {slots}")
        self._gpt = gpt
        self.slots, self.rows, self.capacity = slots, rows, capacity
        self.device = gpt.ln_f.weight.device
        self.dtype = dtype or gpt.ln_f.weight.dtype
        self.width = gpt.config.n_embd
        self._heads = gpt.config.n_head
        shape = (slots, rows, self._heads, capacity, self.width // self._heads)
        # Zeroed: a masked-out slot still enters the attention's weighted sum (0 × NaN is NaN).
        self._keys = [self._zeros(shape) for _ in gpt.h]
        self._values = [self._zeros(shape) for _ in gpt.h]
        self._positions = torch.arange(capacity, device=self.device)
        self._owners: list[PooledCache | None] = [None] * slots
        self._free = threading.Condition()
        self._graphs: dict[int, _Graph] = {}

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in [*self._keys, *self._values])

    def _zeros(self, shape: tuple) -> torch.Tensor:
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    def acquire(self) -> PooledCache:
        """The first free slot (waiting while every slot decodes)."""
        with self._free:
            if not self._free.wait_for(lambda: None in self._owners, SLOT_WAIT_SECONDS):
                raise EngineError(f"all {self.slots} decode slots stayed busy (max_batch)")
            cache = PooledCache(self, self._owners.index(None))
            self._owners[cache.slot] = cache
            return cache

    def release(self, cache: PooledCache) -> None:
        """Give `cache`'s slot back; the last slot's request moves into it, keeping slots packed.
        Call it holding the model (no step in flight)."""
        with self._free:
            if self._owners[cache.slot] is not cache:
                return
            last = max(i for i, owner in enumerate(self._owners) if owner is not None)
            moved = self._owners[last]
            if last != cache.slot:
                for buffer in (*self._keys, *self._values):
                    buffer[cache.slot].copy_(buffer[last])
                moved.slot, self._owners[cache.slot] = cache.slot, moved
            self._owners[last] = None
            self._free.notify()

    def prefix(self, cache: PooledCache, x: torch.Tensor) -> torch.Tensor:
        n = x.size(1)
        if cache.length or n > self.capacity:
            raise EngineError(f"KV pool: a prefix of {n} positions into slot {cache.slot}")

        def attend(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            keys, values = self._keys[layer][cache.slot], self._values[layer][cache.slot]
            keys[:, :, :n] = k
            values[:, :, :n] = v
            rows = q.size(0)
            return F.scaled_dot_product_attention(
                q, keys[:rows, :, :n], values[:rows, :, :n], is_causal=n > 1
            )

        hidden = _blocks(self._gpt, x, attend)
        cache.length = n
        return hidden

    def step(self, caches: list[PooledCache], xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """One position for each of `caches` (its rows (rows, 1, d) in `xs`) in one bucket step:
        the weights are read once for every row; each request attends over its own buffer."""
        size = next(b for b in buckets(self.slots) if b > max(c.slot for c in caches))
        x = self._zeros((size, self.rows, 1, self.width))
        positions = torch.full((size,), self.capacity - 1, device=self.device)
        for cache, rows in zip(caches, xs, strict=True):
            if cache.length >= self.capacity:
                raise EngineError(f"KV pool: room for {self.capacity} positions")
            x[cache.slot] = rows
            positions[cache.slot] = cache.length
        graph = self._graphs.get(size)
        hidden = graph(x, positions) if graph else self.bucket_step(x, positions)
        for cache in caches:
            cache.length += 1
        return [hidden[cache.slot] for cache in caches]

    def bucket_step(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The first `x.size(0)` slots' step: rows x (B, rows, 1, d) at `positions` (B,), each
        attending over its slot's whole buffer up to its position. What a graph captures."""
        size, rows = x.size(0), self.rows
        visible = self._positions.view(1, -1) <= positions.view(-1, 1)  # (B, capacity)
        mask = visible.repeat_interleave(rows, 0).view(size * rows, 1, 1, self.capacity)
        batch = torch.arange(size, device=self.device)

        def attend(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            keys, values = self._keys[layer][:size], self._values[layer][:size]
            heads = k.shape[1:3]  # (heads, 1) of (B·rows, heads, 1, head_dim)
            keys[batch, :, :, positions] = k.view(size, rows, *heads, -1)[:, :, :, 0]
            values[batch, :, :, positions] = v.view(size, rows, *heads, -1)[:, :, :, 0]
            flat = (size * rows, self._heads, self.capacity, -1)
            return F.scaled_dot_product_attention(
                q, keys.reshape(flat), values.reshape(flat), attn_mask=mask
            )

        return _blocks(self._gpt, x.view(size * rows, 1, -1), attend).view(size, rows, 1, -1)

    def capture(self) -> None:
        """Each bucket's step as a CUDA graph (on a GPU; a no-op elsewhere), checked against the
        eager step on the same input before it is used. Call at load, under the GPT's autocast."""
        if self.device.type != "cuda":
            return
        with torch.cuda.device(self.device):
            for size in buckets(self.slots):
                graph = _Graph(self, size)
                x = torch.randn_like(graph.input)
                trash = torch.full((size,), self.capacity - 1, device=self.device)
                expected = self.bucket_step(x, trash)
                replayed = graph(x, trash)
                scale = expected.abs().max()
                if not torch.allclose(replayed, expected, atol=1e-3 * float(scale), rtol=0):
                    raise EngineError(f"the decode step's CUDA graph for {size} disagrees")
                self._graphs[size] = graph


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


def _graph_safe_autocast():
    enabled = torch.is_autocast_enabled("cuda")
    dtype = torch.get_autocast_dtype("cuda")
    return torch.autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=False)
