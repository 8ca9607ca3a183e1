"""Entry point for `python -m tts_plugin`."""

import sys

from tts_plugin.cli import main

sys.exit(main())
