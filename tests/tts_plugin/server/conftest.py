import pytest


@pytest.fixture(autouse=True)
def voices_dir(tmp_path, monkeypatch):
    """Keep uploaded voices of every test in its own directory, never in the home directory."""
    path = tmp_path / "voices"
    monkeypatch.setenv("TTS_VOICES_DIR", str(path))
    return path
