#!/usr/bin/env bash
# Re-resolve every dependency of the agent and the test suite from pyproject.toml's ranges in a fresh
# venv and write the exact versions to constraints.txt, the lock the README's install and test commands
# (and so CI) install from. Upgrading is this script, then the README's test command, then one commit.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python -m venv "$venv"
"$venv/bin/pip" install -q torch==2.13.0
CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" "$venv/bin/pip" install -q -e ".[agent,test]"
{
  echo "# The lock: exact versions the test suite passed with (Linux x86_64, CPython 3.11, CPU torch)."
  echo "# Written by tools/relock.sh from pyproject.toml's ranges; tests/test_lock.py keeps the two in step."
  # A GPU user keeps their own CUDA torch: the pin names the release, not the +cpu build.
  "$venv/bin/pip" freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/'
  echo "# The llm-large extra, pinned exactly in pyproject.toml; relock does not install its 1.1 GB."
  python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["llm-large"]))'
} > constraints.txt
rm -rf "$(dirname "$venv")"
echo "constraints.txt: $(grep -c '==' constraints.txt) pins; now run the README's test command and commit"
