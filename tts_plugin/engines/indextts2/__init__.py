"""The IndexTTS2 engine (IndexTTS-2 and IndexTTS-2.5 checkpoints), streaming below the sentence."""

from tts_plugin.engines.indextts2.chunking import ChunkSchedule
from tts_plugin.engines.indextts2.decode import Sampling
from tts_plugin.engines.indextts2.engine import IndexTTS2Engine

__all__ = ["ChunkSchedule", "IndexTTS2Engine", "Sampling"]
