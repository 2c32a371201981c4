"""The assistant's labelled utterances.

- train.jsonl: what the intent classifier learns from (scripts/assistant_training.py).
- heldout.jsonl, fresh.jsonl, blind.jsonl: hand-written test messages in the evaluation contract's
  shape, never trained on (tests/assistant/nlu/test_data.py checks it). `make bench`
  reports heldout.jsonl's figures.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAINING_FILE = HERE / "train.jsonl"
HELD_OUT_FILE = HERE / "heldout.jsonl"
HELD_OUT_FILES = (HELD_OUT_FILE, HERE / "fresh.jsonl", HERE / "blind.jsonl")
