"""Red flags: lay wording and typos flag, negations and false friends do not."""

import pytest

from assistant.nlu import RED_FLAG_KINDS, RedFlag, red_flag


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I have chest pain", "chest_pain"),
        ("crushing chest pain", "chest_pain"),
        ("my chest feels really tight", "chest_pain"),
        ("feels like an elephant sitting on my chest", "chest_pain"),
        ("I can't breathe", "breathing"),
        ("cant breath", "breathing"),
        ("struggling for breath", "breathing"),
        ("my baby is turning blue", "breathing"),
        ("her face is drooping", "stroke"),
        ("slurred speech since lunch", "stroke"),
        ("his words are coming out slurred", "stroke"),
        ("sudden weakness down my right side", "stroke"),
        ("the bleeding won't stop", "bleeding"),
        ("there's so much blood", "bleeding"),
        ("coughing up blood", "bleeding"),
        ("my throat is closing", "anaphylaxis"),
        ("tongue swelling after peanuts", "anaphylaxis"),
        ("I had to use my epipen", "anaphylaxis"),
        ("I want to kill myself", "self_harm"),
        ("thinking about ending my life", "self_harm"),
        ("I don't want to live anymore", "self_harm"),
        ("I don't want to hurt myself but I might", "self_harm"),
        ("I took too many pills", "overdose"),
        ("i took to many pills", "overdose"),
        ("she swallowed a whole bottle of tylenol", "overdose"),
        ("he passed out and won't wake up", "unconscious"),
        ("my mum collapsed", "unconscious"),
        ("my wife is having a seizure", "seizure"),
        ("my husband isn't breathing", "breathing"),
        ("he can't move his left arm", "stroke"),
        ("I can't stop the bleeding", "bleeding"),
        ("my throat feels like it's closing", "anaphylaxis"),
        ("I took all my sleeping pills", "overdose"),
        ("I feel like I'm going to pass out", "unconscious"),
        ("please call an ambulance", "severe_distress"),
        ("my stomach pain is unbearable", "severe_distress"),
        ("I am out of breath just sitting here", "breathing"),
        ("my speech is garbled", "stroke"),
        ("the cut is deep and gushing", "bleeding"),
        ("i vomited blood", "bleeding"),
        ("i'm thinking of taking all my pills", "self_harm"),
        ("i took 20 of my sleeping tablets", "overdose"),
        ("my toddler ate some of my pills", "overdose"),
        ("my heart is racing and I feel like passing out", "unconscious"),
        ("i cnt breathe", "breathing"),
        ("think im having a heartattack", "chest_pain"),
        ("i drank a bottle of vodka and took pills", "overdose"),
        ("my daughter swallowed a battery", "overdose"),
        ("sudden severe headache and confusion", "stroke"),
        ("massive nosebleed won't stop", "bleeding"),
        ("cut my wrist", "self_harm"),
    ],
)
def test_it_flags_lay_wording(text, kind):
    flag = red_flag(text)
    assert flag is not None
    assert flag.kind == kind
    assert flag.kind in RED_FLAG_KINDS


@pytest.mark.parametrize(
    "text",
    ["cheast pain", "chest pian", "chets pain", "cant breathe", "cant brethe", "bleding wont stop"],
)
def test_it_flags_through_typos(text):
    assert red_flag(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "no chest pain, just want to book a checkup",
        "I don't have chest pain anymore",
        "denies shortness of breath",
        "without any trouble breathing",
        "not short of breath",
        "I'm not suicidal, I want to talk about my mood",
        "no thoughts of harming myself",
        "the chest pain is gone now",
        "chest pain went away yesterday",
        "I had chest pain last week but it's fine now, want a follow up",
    ],
)
def test_negated_red_flags_do_not_flag(text):
    assert red_flag(text) is None


def test_a_hedge_is_not_a_negation():
    assert red_flag("not sure if this is chest pain") == RedFlag("chest_pain", "chest pain")


def test_a_negation_reaches_only_its_own_clause():
    flag = red_flag("no fever, but I can't breathe")
    assert flag is not None
    assert flag.kind == "breathing"


@pytest.mark.parametrize(
    "text",
    [
        "can someone explain my chest x-ray results",
        "my breathing test appointment",
        "bleeding gums refill?",  # not severe bleeding: a question for the care team
        "blood pressure pills refill",
        "what time is my stroke clinic appointment",
        "I had a stroke last year and need a follow up",
        "I paid my bill",
        "I'm cooking dinner",
        "my cough is better",
        "refill my epipen",
        "I need a refill of my nitroglycerin spray for chest pain",
        "what should I do if I get chest pain",
        "the nurse said to call if I get chest pain",
        "I'm dying for a coffee",
        "I can't breathe through my nose, it's blocked",
        "my eye is drooping a bit since botox",
        "my throat is sore and swollen glands",
    ],
)
def test_false_friends_do_not_flag(text):
    assert red_flag(text) is None


def test_the_phrase_is_the_matched_words_only():
    flag = red_flag("Hi, my name is Alice and I have CHEST PAIN since 9am")
    assert flag == RedFlag(kind="chest_pain", phrase="chest pain")


def test_advice_about_a_symptom_does_not_hide_the_symptom_itself():
    assert red_flag("refill my spray for chest pain, I have chest pain now") is not None
    assert red_flag("if I have chest pain right now what do I do") is not None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my chest is kind of crushing", "chest_pain"),
        ("really bad pain in my chest", "chest_pain"),
        ("my dad's mouth is drooping on one side", "stroke"),
        ("my face and throat are swelling after a bee sting", "anaphylaxis"),
        ("i cut my leg and it is pouring blood", "bleeding"),
        ("I swallowed a bunch of pills an hour ago", "overdose"),
        ("I don't see the point in living anymore", "self_harm"),
    ],
)
def test_it_flags_a_body_part_and_what_is_wrong_with_it_words_apart(text, kind):
    flag = red_flag(text)
    assert flag is not None
    assert flag.kind == kind


def test_taking_the_usual_pills_is_not_an_overdose():
    assert red_flag("I took all my pills today as prescribed") is None
    assert red_flag("I took some of my pills") is None
    assert red_flag("I'm thinking of taking all my annual leave") is None
    assert red_flag("I had a lot of pills to take this week") is None


@pytest.mark.parametrize(
    "text",
    [
        "chest pain? no",
        "shortness of breath: none",
        "Chest pain - no",
        "chest pain free since surgery",
    ],
)
def test_a_check_in_answer_of_no_is_not_a_flag(text):
    assert red_flag(text) is None


def test_a_check_in_answer_of_yes_is_a_flag():
    assert red_flag("chest pain? yes") is not None
    assert red_flag("chest pain no idea why") is not None


def test_a_history_is_not_a_flag():
    assert red_flag("I used to get chest pain") is None
