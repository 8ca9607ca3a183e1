"""The runnable voice agent: WebRTC in, VAD, STT, LLM, IndexTTS2TTSService, WebRTC out."""
