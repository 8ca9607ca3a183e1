"""`python -m tts_plugin say "text" --emotion happy --out hello.wav`: try an engine from the shell.

`--out -` streams raw PCM (s16le, mono, at the engine's rate) to stdout as each chunk is produced, so
`python -m tts_plugin say "Hi" --out - | aplay -f S16_LE -r 22050` starts playing at the first chunk.
Status lines go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
import wave
from dataclasses import fields, replace
from pathlib import Path

from loguru import logger

from tts_plugin.emotion import EMOTION_DIMENSIONS, PRESETS, Emotion, EmotionError
from tts_plugin.engine import EngineError, SynthesisRequest, TTSEngine
from tts_plugin.engine_factory import (
    DIFFUSION_STEPS,
    FIRST_CHUNK_SECONDS,
    MAX_CODES,
    VOICE_CACHE,
    EngineSettings,
    create_engine,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tts_plugin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    say = commands.add_parser("say", help="synthesise text to a WAV file or raw PCM on stdout")
    say.add_argument("text", help="what to say (English or Mandarin)")
    say.add_argument("--out", required=True, help="output .wav path, or - for raw PCM on stdout")
    add_engine_arguments(say)
    emotion = say.add_mutually_exclusive_group()
    emotion.add_argument(
        "--emotion", default="neutral", help=f"preset: {', '.join(PRESETS)} (default neutral)"
    )
    emotion.add_argument(
        "--emotion-vector",
        help=f"8 comma-separated weights in [0, 1]: {','.join(EMOTION_DIMENSIONS)}",
    )
    emotion.add_argument("--emotion-text", help="describe the emotion in words")
    say.add_argument("--intensity", type=float, default=None, help="emotion intensity, 0..1")
    say.add_argument(
        "--language", choices=["en", "zh", "ja", "es"], help="default: from the script"
    )
    say.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.5..2.0")
    say.add_argument(
        "--voice", help="voice name (engine-specific; indextts2: a clip in --voices-dir)"
    )
    commands.add_parser("emotions", help="list emotion presets and their vectors")
    serve = commands.add_parser("serve", help="run the streaming TTS server (OpenAI speech API)")
    add_engine_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--max-concurrent",
        type=int,
        default=2,
        help="syntheses at once (on indextts2: the requests one decode step serves)",
    )
    serve.add_argument("--max-waiting", type=int, default=4, help="queued requests before 429")
    serve.add_argument(
        "--cors-origin", action="append", default=[], help="a web origin allowed (CORS is off)"
    )
    serve.add_argument(
        "--audit-log",
        type=Path,
        default=None,
        help="also write the audit trail to this file (rotated at 10 MB, 5 kept); always on stderr",
    )
    scale = serve.add_argument_group(
        "Ray Serve (pip install 'pipecat-indextts2[scale]')",
        "--ray serves the same API from replicas of the engine; --max-waiting is then the "
        "requests Ray queues for a free replica before 429",
    )
    scale.add_argument("--ray", action="store_true", help="serve with Ray Serve replicas")
    scale.add_argument(
        "--ray-address", help="join this Ray cluster (e.g. auto); default: start a local one"
    )
    scale.add_argument("--ray-num-cpus", type=int, help="CPUs of the local Ray cluster it starts")
    scale.add_argument("--min-replicas", type=int, default=1)
    scale.add_argument("--max-replicas", type=int, default=1, help="autoscaling upper bound")
    scale.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica")
    scale.add_argument("--num-cpus", type=float, default=1.0, help="CPUs per replica")
    return parser


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", default="embedded", choices=["embedded", "indextts2"], help="speech backend"
    )
    group = parser.add_argument_group(
        "indextts2 engine (local IndexTTS-2 or IndexTTS-2.5 checkpoints)"
    )
    group.add_argument("--model-dir", type=Path, help="the checkpoints dir (config.yaml, gpt.pth…)")
    group.add_argument(
        "--reference-voice", type=Path, help="default voice clip (default: MODEL_DIR/voice.wav)"
    )
    group.add_argument("--voices-dir", type=Path, help="more voice clips, named by file stem")
    group.add_argument("--device", help="cuda, cuda:1, cpu… (default: the first GPU, else CPU)")
    group.add_argument("--bf16", action="store_true", help="IndexTTS-2.5's GPT in bfloat16 (GPU)")
    group.add_argument("--fp16", action="store_true", help="IndexTTS-2's GPT in float16 (GPU)")
    group.add_argument(
        "--cuda-graphs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="on CUDA, capture each request's GPT decode step as a CUDA graph (default: on)",
    )
    group.add_argument(
        "--diffusion-steps",
        type=int,
        default=DIFFUSION_STEPS,
        help="flow-matching steps per chunk (1-100)",
    )
    group.add_argument(
        "--max-codes", type=int, default=MAX_CODES, help="semantic codes per text segment at most"
    )
    group.add_argument(
        "--first-chunk-seconds",
        type=float,
        default=FIRST_CHUNK_SECONDS,
        help="audio decoded before the first chunk",
    )
    group.add_argument(
        "--voice-cache",
        type=int,
        default=VOICE_CACHE,
        help="voices whose conditioning stays in memory (the least recently used goes first)",
    )
    group.add_argument(
        "--no-text-normalization",
        action="store_true",
        help="skip text normalisation (numbers, dates as words: upstream's WeTextProcessing "
        "grammars, built once, ~1 min, then cached)",
    )


def engine_settings(
    args: argparse.Namespace, voices_dir: Path | None = None, max_batch: int = 8
) -> EngineSettings:
    """The engine the flags ask for (flags are named as `EngineSettings` names its fields;
    `--voices-dir` wins over the server's uploads dir)."""
    shared = {f.name for f in fields(EngineSettings)} & set(vars(args))
    return replace(
        EngineSettings(**{name: getattr(args, name) for name in shared}),
        voices_dir=args.voices_dir or voices_dir,
        max_batch=max_batch,
        text_normalization=not args.no_text_normalization,
    )


def parse_emotion(args: argparse.Namespace) -> Emotion:
    if args.emotion_vector:
        try:
            values = [float(v) for v in args.emotion_vector.split(",")]
        except ValueError:
            raise EmotionError("--emotion-vector takes comma-separated numbers") from None
        return Emotion(vector=tuple(values), intensity=args.intensity)
    if args.emotion_text:
        return Emotion(description=args.emotion_text, intensity=args.intensity)
    return Emotion.parse(args.emotion).with_intensity(args.intensity)


def load_with_status(engine: TTSEngine) -> None:
    """Load the engine in a thread while a status line counts the seconds on stderr."""
    done = threading.Event()
    error: list[BaseException] = []

    def work() -> None:
        try:
            engine.load()
        except BaseException as e:  # re-raised on the main thread
            error.append(e)
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    started = time.monotonic()
    while not done.wait(0.2):
        print(
            f"\rloading the {engine.name} engine… {time.monotonic() - started:.1f}s ",
            end="",
            file=sys.stderr,
            flush=True,
        )
    if error:
        print(file=sys.stderr)
        raise error[0]
    print(f"\r{engine.name} engine loaded in {time.monotonic() - started:.1f}s ", file=sys.stderr)


def say(args: argparse.Namespace) -> None:
    request = SynthesisRequest(
        text=args.text,
        emotion=parse_emotion(args),
        voice=args.voice,
        language=args.language,
        speed=args.speed,
    )
    engine = create_engine(engine_settings(args))
    load_with_status(engine)
    to_stdout = args.out == "-"
    started = time.monotonic()
    first = None
    samples = 0
    with contextlib.ExitStack() as stack:
        if to_stdout:
            write = sys.stdout.buffer.write
        else:
            writer = stack.enter_context(wave.open(str(Path(args.out)), "wb"))
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(engine.sample_rate)
            write = writer.writeframes
        for chunk in engine.stream(request, threading.Event()):
            first = first if first is not None else time.monotonic() - started
            samples += len(chunk)
            write(chunk.tobytes())
            if to_stdout:
                sys.stdout.buffer.flush()
    elapsed = time.monotonic() - started
    seconds = samples / engine.sample_rate
    print(
        f"{seconds:.2f}s of audio at {engine.sample_rate} Hz ({request.emotion.label()}); "
        f"first chunk {first or 0:.3f}s, total {elapsed:.3f}s, RTF {elapsed / max(seconds, 1e-9):.3f}"
        + ("" if to_stdout else f" -> {args.out}"),
        file=sys.stderr,
    )


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from tts_plugin.server.app import ServerOptions, default_voices_dir, server_app

    # Uploaded clips are the indextts2 engine's voices too.
    voices_dir = args.voices_dir or default_voices_dir()
    settings = engine_settings(args, voices_dir, max_batch=args.max_concurrent)
    options = ServerOptions(
        max_concurrent=args.max_concurrent,
        max_waiting=args.max_waiting,
        voices_dir=voices_dir,
        cors_origins=args.cors_origin,
        audit_log=args.audit_log,
    )
    if args.ray:
        try:
            from tts_plugin.server import ray_app
        except ImportError as e:
            raise EngineError(
                f"--ray needs Ray Serve: pip install 'pipecat-indextts2[scale]' ({e})"
            ) from None
        scale = ray_app.ScaleOptions(
            min_replicas=args.min_replicas,
            max_replicas=args.max_replicas,
            num_gpus=args.num_gpus,
            num_cpus=args.num_cpus,
            max_concurrent=args.max_concurrent,
            max_queued=args.max_waiting,
        )
        print(f"TTS server (Ray Serve) on http://{args.host}:{args.port}/", file=sys.stderr)
        ray_app.run(
            settings, options, scale, host=args.host, port=args.port,
            ray_address=args.ray_address, ray_num_cpus=args.ray_num_cpus,
        )  # fmt: skip
        return
    engine, app = server_app(settings, options)
    load_with_status(engine)
    print(
        f"TTS server on http://{args.host}:{args.port}/ (schema at /openapi.json)", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def list_emotions() -> None:
    print("preset        " + " ".join(f"{d[:5]:>5}" for d in EMOTION_DIMENSIONS))
    for name, vector in PRESETS.items():
        print(f"{name:<13} " + " ".join(f"{v:5.2f}" for v in vector))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger.remove()
    try:
        if args.command == "emotions":
            list_emotions()
        elif args.command == "serve":
            from tts_plugin.server.audit import audit_filter

            # Audit lines are INFO; they reach stderr at any level (the README promises them there).
            logger.add(sys.stderr, level=0, filter=audit_filter("WARNING"))
            serve(args)
        else:
            logger.add(sys.stderr, level="WARNING")
            say(args)
    except (EmotionError, EngineError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
