"""Speech backends behind the `TTSEngine` contract."""
