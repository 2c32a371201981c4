"""The post-discharge check-in questionnaire: a committed FHIR R4 Questionnaire, its form,
and the QuestionnaireResponse an answer becomes.

The questions live in one place, ``assistant/fhir/post_discharge_checkin.json``
(validated by the R4B models when first loaded); the form's fields are made from
its items, and an answer is written back in the Questionnaire's own shape. The
symptom questions (the ``symptoms`` group) are the red flags: a yes to any of them
shows the emergency instructions and alerts the care team (assistant/checkins.py), and
so does a red flag in the free text (``assistant.nlu.red_flag``).
"""

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from django import forms

from assistant.nlu import RedFlag, red_flag
from portal.fhir import validate

PATH = Path(__file__).resolve().parent / "fhir" / "post_discharge_checkin.json"
RED_FLAG_GROUP = "symptoms"
FREE_TEXT = "anything_else"
FOLLOWUP_BOOKED = "followup_booked"
YES_NO = [("yes", "Yes"), ("no", "No")]


@cache
def questionnaire() -> dict[str, Any]:
    """The Questionnaire resource; InvalidResource if the committed file is not valid R4."""
    resource = json.loads(PATH.read_text(encoding="utf-8"))
    validate(resource)
    return resource


def canonical() -> str:
    q = questionnaire()
    return f"{q['url']}|{q['version']}"


def _questions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answerable items in order, groups flattened."""
    found = []
    for item in items:
        if item["type"] == "group":
            found += _questions(item.get("item", []))
        else:
            found.append(item)
    return found


def red_flag_items() -> list[dict[str, Any]]:
    """The symptom questions, whose linkId is the alert's red_flag_kind."""
    group = next(i for i in questionnaire()["item"] if i["linkId"] == RED_FLAG_GROUP)
    return list(group["item"])


def red_flag_label(kind: str) -> str:
    return next((i["text"] for i in red_flag_items() if i["linkId"] == kind), kind)


class CheckInForm(forms.Form):
    """One field per question, named by its linkId; yes/no questions as two radios."""

    def __init__(self, data: Any = None) -> None:
        super().__init__(data)
        for item in _questions(questionnaire()["item"]):
            self.fields[item["linkId"]] = _field(item)

    def urgent(self) -> bool:
        """Whether a symptom is answered yes or the free text names a red flag, even when
        the rest of the form is not valid: a red flag is acted on at once, not after the
        patient fixes the other answers."""
        if not self.is_bound:
            return False
        self.is_valid()
        answers = self.cleaned_data
        return any(answers.get(i["linkId"]) == "yes" for i in red_flag_items()) or bool(
            written_red_flag(answers.get(FREE_TEXT) or "")
        )

    def symptom_fields(self) -> list[forms.BoundField]:
        return [self[i["linkId"]] for i in red_flag_items()]

    def other_fields(self) -> list[forms.BoundField]:
        symptoms = {i["linkId"] for i in red_flag_items()}
        return [field for field in self if field.name not in symptoms]


def _field(item: dict[str, Any]) -> forms.Field:
    label = item["text"]
    if item["type"] == "boolean":
        return forms.ChoiceField(
            label=label,
            choices=YES_NO,
            widget=forms.RadioSelect,
            error_messages={"required": "Please answer yes or no."},
        )
    if item["type"] == "choice":
        return forms.ChoiceField(
            label=label,
            choices=[
                (o["valueCoding"]["code"], o["valueCoding"]["display"])
                for o in item["answerOption"]
            ],
            widget=forms.RadioSelect,
            error_messages={"required": "Please choose one."},
        )
    return forms.CharField(
        label=f"{label} (optional)",
        required=bool(item.get("required")),
        max_length=item.get("maxLength", 2000),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="This is not read at once. If you need help now, call 911.",
    )


def response_from(
    answers: dict[str, str], *, authored: datetime, subject_fhir_id: str = ""
) -> dict[str, Any]:
    """A QuestionnaireResponse of the form's cleaned answers (validated).

    Questions left out are left out of the response too. Its status is
    ``completed`` when every required question is answered, else ``stopped``
    (answering ended early: a red flag sent the patient to emergency care).
    """
    items = [i for i in (_answered(item, answers) for item in questionnaire()["item"]) if i]
    required = {i["linkId"] for i in _questions(questionnaire()["item"]) if i.get("required")}
    complete = required <= {k for k, v in answers.items() if v not in ("", None)}
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": canonical(),
        "status": "completed" if complete else "stopped",
        "authored": authored.isoformat(),
        "item": items,
    }
    if subject_fhir_id:
        response["subject"] = {"reference": f"Patient/{subject_fhir_id}"}
    validate(response)
    return response


def _answered(item: dict[str, Any], answers: dict[str, str]) -> dict[str, Any] | None:
    """The item with its answer, or None when it has none (a group: none of its own)."""
    out: dict[str, Any] = {"linkId": item["linkId"], "text": item["text"]}
    if item["type"] == "group":
        children = [c for c in (_answered(i, answers) for i in item.get("item", [])) if c]
        return {**out, "item": children} if children else None
    value = answers.get(item["linkId"]) or ""
    if item["type"] == "boolean" and value in ("yes", "no"):
        out["answer"] = [{"valueBoolean": value == "yes"}]
    elif item["type"] == "choice":
        codings = [o["valueCoding"] for o in item["answerOption"]]
        coding = next((c for c in codings if c["code"] == value), None)
        if coding is None:
            return None
        out["answer"] = [{"valueCoding": coding}]
    elif item["type"] == "text" and value.strip():
        out["answer"] = [{"valueString": value.strip()}]
    else:
        return None
    return out


def answers_of(response: dict[str, Any]) -> dict[str, Any]:
    """linkId → the answer's value (bool, code or text) of a stored response."""
    found: dict[str, Any] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            walk(item.get("item", []))
            for answer in item.get("answer", [])[:1]:
                if "valueBoolean" in answer:
                    found[item["linkId"]] = answer["valueBoolean"]
                elif "valueCoding" in answer:
                    found[item["linkId"]] = answer["valueCoding"].get("code")
                elif "valueString" in answer:
                    found[item["linkId"]] = answer["valueString"]

    walk(response.get("item", []))
    return found


def red_flags_of(response: dict[str, Any]) -> list[str]:
    """The symptom questions answered yes, in the questionnaire's order."""
    answers = answers_of(response)
    return [i["linkId"] for i in red_flag_items() if answers.get(i["linkId"]) is True]


def written_red_flag(text: str) -> RedFlag | None:
    """A red flag in what the patient wrote under "anything else" (assistant.nlu's rules,
    negation handled: "no chest pain" is none)."""
    return red_flag(text) if isinstance(text, str) and text.strip() else None


def written_red_flag_of(response: dict[str, Any]) -> RedFlag | None:
    return written_red_flag(answers_of(response).get(FREE_TEXT) or "")
