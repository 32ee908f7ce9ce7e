"""Values handed over between the matters of a case (办结产出).

The business registration's approval gives the new entity its unified social credit
code; the food business licence, which waits for it, needs that code. The applicant
cannot know it when applying, so it is not asked: the department approving the
registration enters it with its decision, and it reaches the waiting tasks' slices.
"""

from __future__ import annotations

import math
from typing import Any

from onething.catalog.dates import FormValidator
from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.typed import fold
from onething.composer.layout import input_kind, resolve

HANDOVER_PREFIX = "produced."


def produced_fields(task) -> list[str]:
    """The library fields whose value this task's approval yields."""
    return list((task.handover or {}).get("produces", []))


def read_values(catalog, task, form: Any) -> tuple[dict, dict]:
    """The values an approval hands over, read from a form or JSON object and checked
    against each library field; and the errors (jsonschema errors) by field."""
    values: dict[str, Any] = {}
    errors: dict[str, list] = {}
    for key in produced_fields(task):
        raw = form.get(f"{HANDOVER_PREFIX}{key}", form.get(key)) if hasattr(form, "get") else None
        field = catalog.fields.get(key)
        # Typed as staff type it (a credit code in lower case, in groups, full-width), read
        # the way the applicants' form reads it.
        kind = input_kind(resolve(field.schema, catalog)) if field is not None else None
        value = fold(kind, raw) if isinstance(raw, str) else raw
        if value in (None, "") or (isinstance(value, float) and not math.isfinite(value)):
            errors[key] = ["required"]
            continue
        if field is not None and field.schema.get("type") in ("number", "integer") \
                and isinstance(value, str):
            try:
                value = int(value) if field.schema["type"] == "integer" else float(value)
            except ValueError:
                pass
            if isinstance(value, float) and not math.isfinite(value):
                errors[key] = ["required"]  # "nan", "inf": no value at all
                continue
        if field is not None:
            found = list(FormValidator(field.schema, registry=catalog.registry,
                                       format_checker=FORMAT_CHECKER).iter_errors(value))
            if found:
                errors[key] = found
                continue
        values[key] = value
    return values, errors
