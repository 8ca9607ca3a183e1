"""The streaming TTS server: an OpenAI-compatible speech API over any `TTSEngine`."""
