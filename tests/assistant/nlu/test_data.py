"""The labelled data: valid labels, and no held-out message in what the model learns from."""

from assistant.nlu import INTENTS
from assistant.nlu.classifier import clean, training_rows
from assistant.nlu.data import HELD_OUT_FILES
from assistant.nlu.evaluate import CONTRACT_SLOTS, read_jsonl


def test_no_held_out_text_is_in_the_training_data():
    trained = {clean(row["text"]) for row in training_rows()}
    for path in HELD_OUT_FILES:
        leaked = [row["text"] for row in read_jsonl(str(path)) if clean(row["text"]) in trained]
        assert leaked == [], path.name


def test_every_label_is_an_intent_and_every_intent_is_trained_or_ruled():
    trained = {row["intent"] for row in training_rows()}
    assert trained <= set(INTENTS)
    assert trained | {"emergency"} == set(INTENTS)
    for path in HELD_OUT_FILES:
        for row in read_jsonl(str(path)):
            assert row["intent"] in INTENTS
            assert set(row["slots"]) <= set(CONTRACT_SLOTS)
            if "medication" in row["slots"]:
                assert row["slots"]["medication"] in row["medications"]


def test_the_held_out_files_cover_every_intent_and_negated_red_flags():
    rows = [row for path in HELD_OUT_FILES for row in read_jsonl(str(path))]
    assert {row["intent"] for row in rows} == set(INTENTS)
    negated = [r for r in rows if r["intent"] != "emergency" and "no chest pain" in r["text"]]
    assert negated


def test_the_training_data_is_one_text_and_intent_a_line():
    for row in training_rows():
        assert set(row) == {"text", "intent"}
        assert row["text"]
        assert row["text"] == " ".join(row["text"].split())
