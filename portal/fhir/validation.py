"""Validating what the EHR sends with the R4B models, without refusing conformant data.

``validate()`` parses a resource with fhir.resources' R4B model. Real servers
(US Core) put extensions on primitive values: ``_birthDate``, ``_status``,
``_valueCode`` inside an extension, a data-absent-reason instead of a value.
The model accepts most of these, but refuses two positions that FHIR allows
(https://hl7.org/fhir/R4/json.html#primitive, extensibility.html#Special-Case):

- ``_value[x]`` beside (or instead of) an Extension's ``value[x]``: the
  Extension model has no field for it (``extra_forbidden``);
- a required choice element present only as its extension, such as an
  Immunization's ``_occurrenceDateTime`` holding a data-absent-reason: the
  model's one-of-many check ignores the ``_`` sibling (``value_error``).

Refusing them would quarantine a whole resource (a Patient's demographics
would silently stay stale), so when, and only when, the model refuses a
resource, it is validated once more as the model can take it: each such
``_value[x]`` is checked on its own as a primitive's extension and left out,
and a required choice that has only its ``_`` sibling gets a stand-in value of
its type. The copy exists only for validation; what is stored and shown is
the resource as sent (the stand-in never leaves this module). A resource that
still fails is refused with the model's reasons, as before.
"""

import re
from typing import Any

import pydantic
from fhir.resources.R4B import FHIRAbstractModel, get_fhir_model_class
from fhir.resources.R4B.fhirprimitiveextension import FHIRPrimitiveExtension

from portal.fhir.errors import InvalidResource

# Resource type names are also path segments and module names; nothing else passes.
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_EXTENSION_LISTS = ("extension", "modifierExtension")
# A stand-in per primitive type for a choice element sent only as its extension.
_STAND_INS: dict[str, Any] = {
    "Base64Binary": "",
    "Boolean": False,
    "Canonical": "urn:absent",
    "Code": "absent",
    "Date": "1900",
    "DateTime": "1900",
    "Decimal": 0,
    "Id": "absent",
    "Instant": "1900-01-01T00:00:00Z",
    "Integer": 0,
    "Markdown": "absent",
    "Oid": "urn:oid:1.0",
    "PositiveInt": 1,
    "String": "absent",
    "Time": "00:00:00",
    "UnsignedInt": 0,
    "Uri": "urn:absent",
    "Url": "urn:absent",
    "Uuid": "urn:uuid:00000000-0000-0000-0000-000000000000",
}
_CHOICE = re.compile(r"[a-z][A-Za-z]*?(" + "|".join(sorted(_STAND_INS, key=len)[::-1]) + r")")


def validate(resource: dict[str, Any]) -> FHIRAbstractModel:
    """Parse one resource with the R4B models, or raise InvalidResource.

    The reason names the failing fields and error kinds only: pydantic's own
    message quotes input values, which are PHI.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not _RESOURCE_TYPE.fullmatch(resource_type):
        raise InvalidResource("no_resource_type")
    try:
        model_class = get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError, ImportError):
        raise InvalidResource("unknown_resource_type") from None
    try:
        return model_class.model_validate(resource)
    except pydantic.ValidationError as error:
        first = error
    # The common case (a valid resource) never gets here: this costs only refusals.
    problems: set[str] = set()
    stand_ins: list[tuple[str, ...]] = []
    copy = _as_the_model_takes_it(resource, (), problems, stand_ins, in_extension=False)
    if copy is not resource and not problems:
        try:
            model = model_class.model_validate(copy)
        except pydantic.ValidationError as error:
            first = error
        else:
            for path in stand_ins:
                _withdraw(model, path)
            return model
    raise InvalidResource(_reason(first, problems))


def _withdraw(model: Any, path: tuple[str, ...]) -> None:
    """Take a stand-in value back out of the validated model: it holds what was sent."""
    *parents, name = path
    for step in parents:
        model = model[int(step)] if step.isdigit() else getattr(model, step)
    # Past validation: plain attribute storage, no re-validation of the choice.
    model.__dict__[name] = None


def _reason(error: pydantic.ValidationError, extra: set[str]) -> str:
    problems = extra | {
        f"{'.'.join(str(part) for part in e['loc'])}:{e['type']}" for e in error.errors()
    }
    return ("invalid:" + ",".join(sorted(problems)[:5]))[:200]


def _as_the_model_takes_it(
    value: Any,
    path: tuple[str, ...],
    problems: set[str],
    stand_ins: list[tuple[str, ...]],
    *,
    in_extension: bool,
) -> Any:
    """``value`` with the allowed positions the model refuses rewritten (see above).

    Returns ``value`` itself when nothing needed rewriting; otherwise a copy of
    the containers on the way down (the input is never changed). A ``_value[x]``
    that is not a valid primitive extension is added to ``problems``; where a
    stand-in was put is added to ``stand_ins``.
    """
    if isinstance(value, list):
        items = [
            _as_the_model_takes_it(
                item, (*path, str(n)), problems, stand_ins, in_extension=in_extension
            )
            for n, item in enumerate(value)
        ]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] | None = None
    for key, item in value.items():
        if in_extension and key.startswith("_value"):
            try:
                FHIRPrimitiveExtension.model_validate(item)
            except pydantic.ValidationError as error:
                problems.update(
                    f"{'.'.join((*path, key, *map(str, e['loc'])))}:{e['type']}"
                    for e in error.errors()
                )
            out = out if out is not None else dict(value)
            del out[key]
            continue
        if (
            key.startswith("_")
            and key[1:] not in value
            and (choice := _CHOICE.fullmatch(key[1:]))
            and isinstance(item, dict)
        ):
            out = out if out is not None else dict(value)
            out[key[1:]] = _STAND_INS[choice.group(1)]
            stand_ins.append((*path, key[1:]))
        if isinstance(item, dict | list):
            rewritten = _as_the_model_takes_it(
                item, (*path, key), problems, stand_ins, in_extension=key in _EXTENSION_LISTS
            )
            if rewritten is not item:
                out = out if out is not None else dict(value)
                out[key] = rewritten
    return value if out is None else out
