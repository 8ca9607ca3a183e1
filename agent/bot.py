"""One voice session: SmallWebRTC in → Whisper STT → Silero VAD turns → LLM → IndexTTS2 → out.

Built per WebRTC connection from the profile, run until the peer leaves, then torn down (the TTS
service cancels any synthesis still running).
"""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.turns.user_start import (
    MinWordsUserTurnStartStrategy,
    TranscriptionUserTurnStartStrategy,
    VADUserTurnStartStrategy,
)
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from agent.config import AgentConfig, TurnConfig
from agent.context_window import ContextWindow, context_budget
from agent.emotion_control import EmotionControl
from agent.faults import FaultAnnouncer
from agent.interrupted_reply import remember_cut
from agent.liveness import AudioArrivals, watch_peer
from agent.runtime import AgentRuntime
from agent.speculative_turn import SpeculativeSilenceUserTurnStopStrategy
from agent.stt import create_stt
from agent.vad import session_vad
from tts_plugin.service import IndexTTS2TTSService
from tts_plugin.speak_ahead import speak_ahead
from tts_plugin.text_split import detect_language

AUDIO_IN_SAMPLE_RATE = 16000


def turn_strategies(turns: TurnConfig) -> UserTurnStrategies:
    """Start (barge-in) and stop (end of turn) strategies from the profile."""
    if turns.barge_in == "min_words":
        start = [MinWordsUserTurnStartStrategy(min_words=turns.min_words)]
    else:
        interrupt = turns.barge_in == "vad"
        start = [
            VADUserTurnStartStrategy(enable_interruptions=interrupt),
            TranscriptionUserTurnStartStrategy(enable_interruptions=interrupt),
        ]
    if turns.stop == "smart_turn":
        analyzer = LocalSmartTurnAnalyzerV3(
            params=SmartTurnParams(stop_secs=turns.smart_turn_stop_secs)
        )
        stop = [TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer)]
    elif turns.speculate:
        stop = [SpeculativeSilenceUserTurnStopStrategy(user_speech_timeout=turns.silence_secs)]
    else:
        stop = [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=turns.silence_secs)]
    return UserTurnStrategies(start=start, stop=stop)


def create_tts(config: AgentConfig, runtime: AgentRuntime) -> IndexTTS2TTSService:
    tts = config.tts
    return IndexTTS2TTSService(
        engine=runtime.engine,
        settings=IndexTTS2TTSService.Settings(
            emotion=tts.emotion,
            emotion_intensity=tts.emotion_intensity,
            speed=tts.speed,
            voice=tts.voice,
            inline_emotion=tts.inline_emotion,
        ),
        # The LLM is bounded by llm.max_tokens: a reply cut mid-sentence ends at its last sentence.
        drop_unfinished_tail=True,
    )


def create_llm(config: AgentConfig, runtime: AgentRuntime) -> OpenAILLMService:
    llm = config.llm
    return OpenAILLMService(
        api_key=config.secret(llm.api_key_env) or "local",
        base_url=runtime.llm_base_url,
        retry_timeout_secs=llm.timeout_secs,
        settings=OpenAILLMService.Settings(
            model=llm.model,
            max_tokens=llm.max_tokens,
            temperature=llm.temperature,
            system_instruction=runtime.system_prompt,
        ),
    )


async def run_bot(
    connection: SmallWebRTCConnection, runtime: AgentRuntime, observers: list[BaseObserver]
) -> None:
    """Run one session's pipeline until the peer disconnects."""
    config = runtime.config
    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        # No trailing silence after the end: the peer is usually gone by then, and writes to a
        # closed track only time out.
        params=TransportParams(
            audio_in_enabled=True, audio_out_enabled=True, audio_out_end_silence_secs=0
        ),
    )
    vad = session_vad(config.turns)
    stt = create_stt(config, vad)
    llm = create_llm(config, runtime)
    tts = create_tts(config, runtime)
    if config.turns.stop == "silence" and config.turns.speculate and config.turns.speak_ahead:
        speak_ahead(llm)
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad, user_turn_strategies=turn_strategies(config.turns)
        ),
    )
    window = ContextWindow(
        context,
        budget_tokens=context_budget(
            config.llm.n_ctx, config.llm.max_tokens, runtime.system_prompt
        ),
        prefill=runtime.prefill if runtime.llm_server else None,
    )

    @aggregators.user().event_handler("on_user_turn_message_added")
    async def on_user_turn_message_added(aggregator, message):
        # The TTS speaks the reply in the language the user spoke (Whisper's, else the script's).
        tts.listener_language = getattr(stt, "heard_language", None) or detect_language(
            message.content
        )

    @aggregators.assistant().event_handler("on_assistant_turn_stopped")
    async def on_assistant_turn_stopped(aggregator, message):
        if message.interrupted:
            remember_cut(context, message.content or "")
        await window.after_bot_turn()

    arrivals = AudioArrivals()
    pipeline = Pipeline(
        [
            transport.input(),
            arrivals,
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        enable_rtvi=True,
        idle_timeout_secs=None,
        observers=observers,
    )
    EmotionControl(worker, tts)
    FaultAnnouncer(worker, llm=llm, stt=stt, tts=tts)

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        logger.info(f"Peer {connection.pc_id} left; ending its session")
        await worker.cancel(reason="peer disconnected")

    watchdog = asyncio.create_task(watch_peer(connection, worker, arrivals))
    try:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
    finally:
        watchdog.cancel()
        window.close()
        await connection.disconnect()
