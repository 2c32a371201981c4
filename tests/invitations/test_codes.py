"""Activation codes: unguessable, easy to type, stored only as a keyed hash."""

import math

from invitations import codes


def test_it_leaves_out_characters_people_misread():
    assert not set("0O1IL2Z5S8BUV") & set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET)


def test_it_has_enough_entropy_that_five_tries_per_code_cannot_find_one():
    bits = codes.LENGTH * math.log2(len(codes.ALPHABET))
    assert bits >= 70


def test_it_makes_a_different_code_each_time():
    made = {codes.new_code() for _ in range(200)}
    assert len(made) == 200
    assert all(codes.well_formed(c) for c in made)


def test_it_reads_a_typed_code_whatever_the_case_spaces_and_dashes(db):
    code = codes.new_code()
    typed = " " + codes.shown(code).lower().replace("-", " - ") + " "

    assert codes.normalise(typed) == code
    assert codes.digest(typed) == codes.digest(code)


def test_it_refuses_codes_of_the_wrong_shape():
    assert not codes.well_formed("ABC")
    assert not codes.well_formed("0" * codes.LENGTH)  # a letter not in the alphabet


def test_its_stored_form_is_a_keyed_hash_not_the_code(db):
    code = codes.new_code()
    stored = codes.digest(code)
    assert len(stored) == 32
    assert code.encode() not in stored
