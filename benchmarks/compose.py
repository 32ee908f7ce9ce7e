"""Benchmark the composer and the validator cache on the largest bundle reported in practice.

A synthetic bundle of 84 matters × 40 fields (half from the shared library,
with tightening constraints; half the matters' own) across 12 departments,
with scenario conditions and serial edges. It measures:

- cold compose (fresh catalog, empty caches) and warm compose (cache hit);
- validation throughput of merged submissions with the validator compiled once
  per bundle version (the engine's cache) against one built per request.

It then builds a 一类事 of 3 nested bundles × 30 matters, each stage with its own
questions and edges, and a repeating group (shareholders) in three matters, and
measures its cold compose (without answers: every situation, for the savings
ranges) and the validation of submissions with 10 shareholders each. Two of the three
matters asking for the shareholders name only some of the columns.

Each figure is printed with its ratio to a baseline measured in the same run.
Targets: cold compose under 200 ms on one core; cached validation at least 10×
the per-request rate; the 一类事's cold compose under 50 ms and more than 1,000
submissions with 10 shareholders validated a second.

    python benchmarks/compose.py [--matters 84] [--fields 40] [--repeat 7]
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import time

from jsonschema import Draft202012Validator

from onething.catalog.definitions import FIELD_BASE, Catalog, Document
from onething.catalog.formats import FORMAT_CHECKER
from onething.composer.compose import clear_cache, compose
from onething.composer.validation import build_validator, clear_validators, validator_for

LIBRARY_SIZE = 120
DEPARTMENTS = 12
QUESTIONS = 8


def library_field(index: int) -> dict:
    """A synthetic library field: a string, a number or a labelled choice."""
    kind = index % 3
    schema: dict = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{FIELD_BASE}bench_{index:03d}",
        "title": {"zh-Hans": f"共享字段{index}", "en": f"Shared field {index}"},
        "x-section": ("applicant", "entity", "premises", "contact")[index % 4],
    }
    if kind == 0:
        schema.update(type="string", minLength=1, maxLength=200, pattern="^[^<>]*$")
    elif kind == 1:
        schema.update(type="number", minimum=0, maximum=1_000_000)
    else:
        schema.update(type="string", oneOf=[{"const": f"c{i}", "title": f"选项{i}"}
                                            for i in range(6)])
    return schema


def shared_use(index: int, rng: random.Random) -> dict:
    """A matter's use of a library field, often tightening it."""
    use: dict = {"$ref": f"{FIELD_BASE}bench_{index:03d}"}
    kind = index % 3
    if kind == 0 and rng.random() < 0.5:
        use["maxLength"] = rng.choice([50, 100, 150])
    elif kind == 1 and rng.random() < 0.5:
        use["maximum"] = rng.choice([10_000, 100_000, 500_000])
    elif kind == 2 and rng.random() < 0.3:
        use["enum"] = ["c0", "c1", "c2", "c3"]
    return use


def own_field(index: int) -> dict:
    """A matter's own field."""
    kind = index % 4
    if kind == 0:
        return {"type": "string", "title": f"本事项字段{index}", "maxLength": 100}
    if kind == 1:
        return {"type": "integer", "title": f"数量{index}", "minimum": 0, "maximum": 999}
    if kind == 2:
        return {"type": "boolean", "title": f"是否{index}"}
    return {"type": "array", "title": f"多选{index}", "uniqueItems": True,
            "items": {"enum": ["a", "b", "c"]}}


def synthetic_documents(matters: int, fields: int, seed: int = 42) -> list[Document]:
    """Departments, library fields, matters and one bundle, as documents."""
    rng = random.Random(seed)
    documents = [Document("field", f"bench/fields/bench_{i:03d}.json", library_field(i))
                 for i in range(LIBRARY_SIZE)]
    for d in range(DEPARTMENTS):
        documents.append(Document("department", f"bench/departments/dept-{d}.json", {
            "code": f"dept-{d}", "name": f"部门{d}", "level": "district",
            "consult_phone": "12345", "address": "测试路", "office_hours": "工作日"}))
    half = fields // 2
    items, after = [], {}
    for m in range(matters):
        shared = rng.sample(range(LIBRARY_SIZE), half)
        properties = {f"bench_{i:03d}": shared_use(i, rng) for i in shared}
        properties.update({f"own_{j}": own_field(j) for j in range(fields - half)})
        required = [k for k in properties if rng.random() < 0.6]
        code = f"matter-{m:02d}"
        materials = [{
            "id": f"material-{rng.randrange(150)}", "name": f"材料{k}", "type": "other",
            "medium": "either", "copies": 1,
            "necessity": rng.choice(["required", "deferrable", "optional"]),
            "source": "applicant", "shared_data": rng.random() < 0.2,
        } for k in range(6)]
        materials = list({mat["id"]: mat for mat in materials}.values())
        documents.append(Document("matter", f"bench/matters/{code}.json", {
            "code": code, "name": f"事项{m}", "department": f"dept-{m % DEPARTMENTS}",
            "category": "administrative_licence", "serves": ["enterprise"],
            "legal_basis": [{"name": "条例"}], "conditions": ["条件"],
            "handling": "promised", "time_limit": {"legal_days": 20, "promised_days": 1 + m % 5},
            "visits": 1, "fee": {"charged": False}, "location": "大厅", "hours": "工作日",
            "consult_phone": "12345", "complaint_phone": "12345",
            "result": {"type": "certificate", "name": "证"},
            "form": {"type": "object", "properties": properties, "required": required},
            "materials": materials,
        }))
        item: dict = {"matter": code}
        if m % 4 == 3:
            question = f"q{m % QUESTIONS}"
            item["when"] = {"properties": {question: {"const": True}}, "required": [question]}
        items.append(item)
        if m and rng.random() < 0.15:
            after[code] = [f"matter-{rng.randrange(m):02d}"]
    documents.append(Document("bundle", "bench/bundles/bench-bundle.json", {
        "code": "bench-bundle", "name": "基准一件事", "kind": "one_thing",
        "lead_department": "dept-0",
        "questions": {"type": "object",
                      "properties": {f"q{i}": {"type": "boolean"} for i in range(QUESTIONS)},
                      "required": [f"q{i}" for i in range(QUESTIONS)]},
        "items": items, "after": after,
    }))
    return documents


SHAREHOLDERS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"{FIELD_BASE}bench_shareholders",
    "title": {"zh-Hans": "股东", "en": "Shareholders"}, "x-section": "entity",
    "type": "array", "minItems": 1, "maxItems": 50,
    "items": {"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$"},
        "contribution": {"type": "number", "exclusiveMinimum": 0}},
        "required": ["name", "id_number", "contribution"], "additionalProperties": False},
}
STAGES = 3
STAGE_MATTERS = 30
STAGE_QUESTIONS = 4


def one_class_documents(seed: int = 11) -> list[Document]:
    """A 一类事 of 3 stages × 30 matters, each stage with its own questions and edges."""
    rng = random.Random(seed)
    documents = [d for d in synthetic_documents(STAGES * STAGE_MATTERS, 20, seed)
                 if d.kind != "bundle"]
    documents.append(Document("field", "bench/fields/bench_shareholders.json", SHAREHOLDERS))
    # The first stage takes the whole row; the others name the columns they need, one
    # narrowing a column: the one form asks their union, each slice its own columns.
    columns = [None, {"name": {}, "contribution": {}}, {"name": {"maxLength": 30},
                                                         "id_number": {}}]
    for index, document in enumerate(documents):
        number = int(document.data["code"][-2:]) if document.kind == "matter" else -1
        if document.kind == "matter" and number % STAGE_MATTERS == 0:
            form = document.data["form"]
            use = {"$ref": f"{FIELD_BASE}bench_shareholders"}
            if columns[number // STAGE_MATTERS] is not None:
                use["items"] = {"properties": columns[number // STAGE_MATTERS]}
            form = {**form, "properties": {**form["properties"], "bench_shareholders": use},
                    "required": [*form.get("required", []), "bench_shareholders"]}
            documents[index] = Document("matter", document.path, {**document.data, "form": form})
    stages = [f"stage-{s}" for s in range(STAGES)]
    for s, code in enumerate(stages):
        items, after = [], {}
        for m in range(s * STAGE_MATTERS, (s + 1) * STAGE_MATTERS):
            item: dict = {"matter": f"matter-{m:02d}"}
            if m % 3 == 2:
                question = f"s{s}_q{m % STAGE_QUESTIONS}"
                item["when"] = {"properties": {question: {"const": True}},
                                "required": [question]}
            items.append(item)
            if m % STAGE_MATTERS and rng.random() < 0.2:
                after[f"matter-{m:02d}"] = [f"matter-{rng.randrange(s * STAGE_MATTERS, m):02d}"]
        documents.append(Document("bundle", f"bench/bundles/{code}.json", {
            "code": code, "name": f"阶段{s}", "kind": "one_thing",
            "lead_department": f"dept-{s}",
            "questions": {"type": "object", "properties": {
                f"s{s}_q{q}": {"type": "boolean"} for q in range(STAGE_QUESTIONS)},
                "required": [f"s{s}_q{q}" for q in range(STAGE_QUESTIONS)]},
            "items": items, "after": after}))
    documents.append(Document("bundle", "bench/bundles/bench-class.json", {
        "code": "bench-class", "name": "基准一类事", "kind": "one_class",
        "lead_department": "dept-0",
        "questions": {"type": "object", "properties": {"stages": {
            "type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"enum": stages}}}, "required": ["stages"]},
        "items": [{"bundle": code, "when": {"properties": {"stages": {"contains": {
            "const": code}}}, "required": ["stages"]}} for code in stages],
        "after": {stages[-1]: [stages[0]]},
    }))
    return documents


def valid_value(schema: dict, rng: random.Random):
    """A valid value for one merged-schema property (the synthetic types only)."""
    merged = dict(schema)
    if "$ref" in merged:
        merged.pop("$ref")
    if merged.get("items", {}).get("type") == "object":  # ten shareholders
        return [{"name": f"股东{i}", "id_number": f"{rng.randrange(10**17):017d}X",
                 "contribution": rng.randint(1, 500)} for i in range(10)]
    kind = merged.get("type")
    if "enum" in merged:
        return rng.choice(merged["enum"])
    if kind == "integer":
        return rng.randint(0, 999)
    if kind == "number":
        return round(rng.uniform(0, 9_000), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return rng.sample(["a", "b", "c"], rng.randint(0, 3))
    return "填写内容" * rng.randint(1, 5)


def submissions(composition, count: int, seed: int = 7) -> list[dict]:
    """Valid merged submissions for a composition made with answers."""
    rng = random.Random(seed)
    schema = composition.schema
    defs = schema.get("$defs", {})
    result = []
    for _ in range(count):
        data: dict = {"answers": composition.answers}
        for key, prop in schema["properties"].items():
            if key in ("answers", "matters"):
                continue
            base = dict(defs.get(key, {}))
            base.update(prop)
            if "oneOf" in base and "enum" not in base:
                base["enum"] = [c["const"] for c in base["oneOf"]]
            data[key] = valid_value(base, rng)
        data["matters"] = {
            code: {k: valid_value(p, rng) for k, p in ns["properties"].items()}
            for code, ns in schema["properties"].get("matters", {}).get("properties", {}).items()
        }
        result.append(data)
    return result


def timed(function, repeat: int) -> list[float]:
    """Seconds per call over repeated calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run the benchmark and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matters", type=int, default=84)
    parser.add_argument("--fields", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--submissions", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    documents = synthetic_documents(args.matters, args.fields)
    answers = {f"q{i}": True for i in range(QUESTIONS)}

    # Baseline: touching every definition once (a deep copy), to scale the compose time.
    baseline = statistics.median(timed(lambda: copy.deepcopy([d.data for d in documents]),
                                       args.repeat))

    def cold():
        clear_cache()
        clear_validators()
        compose(Catalog(documents).bundles["bench-bundle"], answers)

    cold_times = timed(cold, args.repeat)
    bundle = Catalog(documents).bundles["bench-bundle"]
    composition = compose(bundle, answers)
    warm_times = timed(lambda: compose(bundle, answers), max(args.repeat, 100))
    general = timed(lambda: (clear_cache(), compose(bundle)), args.repeat)

    data = submissions(composition, args.submissions)
    clear_validators()
    validator_for(composition)  # compiled once, as the engine does per bundle version

    def cached():
        for item in data:
            assert validator_for(composition).is_valid(item)

    def uncached():
        for item in data:
            assert build_validator(composition.schema).is_valid(item)

    python_only = Draft202012Validator(composition.schema, format_checker=FORMAT_CHECKER)

    def interpreted():
        for item in data[:20]:
            assert python_only.is_valid(item)

    cached_s = statistics.median(timed(cached, 3))
    uncached_s = statistics.median(timed(uncached, 3))
    interpreted_rate = 20 / statistics.median(timed(interpreted, 3))

    fields = sum(len(s["fields"]) for s in composition.layout["sections"])
    cold_ms = statistics.median(cold_times) * 1000
    print(f"bundle: {args.matters} matters × {args.fields} fields "
          f"({args.fields // 2} from the library) → {fields} fields in the one form, "
          f"{len(composition.materials)} materials, {len(composition.plan.departments)} "
          f"departments, critical path {composition.plan.critical_path_days} days")
    print(f"baseline (deep copy of the definitions): {baseline * 1000:8.2f} ms")
    print(f"cold compose, with answers:              {cold_ms:8.2f} ms  "
          f"(min {min(cold_times) * 1000:.2f}; {cold_ms / (baseline * 1000):.1f}× baseline; "
          f"target < 200 ms: {'OK' if cold_ms < 200 else 'MISSED'})")
    print(f"cold compose, every scenario (if/then):  "
          f"{statistics.median(general) * 1000:8.2f} ms")
    print(f"warm compose (cache hit):                "
          f"{statistics.median(warm_times) * 1e6:8.2f} µs")
    rate_cached = len(data) / cached_s
    rate_uncached = len(data) / uncached_s
    ratio = rate_cached / rate_uncached
    print(f"validation, validator built per request: {rate_uncached:8.0f} submissions/s "
          f"(baseline)")
    print(f"validation, compiled once per version:   {rate_cached:8.0f} submissions/s "
          f"({ratio:.1f}× baseline; target ≥ 10×: {'OK' if ratio >= 10 else 'MISSED'})")
    print(f"validation, python-jsonschema only:      {interpreted_rate:8.0f} submissions/s "
          f"({interpreted_rate / rate_uncached:.2f}× baseline; used for error details)")
    one_class(args, baseline)


def one_class(args, baseline: float) -> None:
    """The 一类事 of 3 stages × 30 matters with a repeating group."""
    documents = one_class_documents()
    answers = {"stages": [f"stage-{s}" for s in range(STAGES)],
               **{f"s{s}_q{q}": True for s in range(STAGES) for q in range(STAGE_QUESTIONS)}}

    def cold_general():
        clear_cache()
        clear_validators()
        compose(Catalog(documents).bundles["bench-class"])

    def cold_answered():
        clear_cache()
        clear_validators()
        compose(Catalog(documents).bundles["bench-class"], answers)

    general_ms = statistics.median(timed(cold_general, args.repeat)) * 1000
    answered_ms = statistics.median(timed(cold_answered, args.repeat)) * 1000
    bundle = Catalog(documents).bundles["bench-class"]
    composition = compose(bundle, answers)
    savings = compose(bundle).savings
    data = submissions(composition, args.submissions)
    assert all(len(item["bench_shareholders"]) == 10 for item in data)
    validator_for(composition)

    def cached():
        for item in data:
            assert validator_for(composition).is_valid(item)

    rate = len(data) / statistics.median(timed(cached, 3))
    print(f"一类事: {STAGES} stages × {STAGE_MATTERS} matters, {len(composition.matters)} "
          f"applying with every stage; forms {savings.forms.before_text} → 1, days "
          f"{savings.days.before_text} → {savings.days.after_text}")
    print(f"cold compose of the 一类事, every situation: {general_ms:8.2f} ms  "
          f"({general_ms / (baseline * 1000):.1f}× baseline; target < 50 ms: "
          f"{'OK' if general_ms < 50 else 'MISSED'})")
    print(f"cold compose of the 一类事, with answers:    {answered_ms:8.2f} ms")
    print(f"validation with 10 shareholders:            {rate:8.0f} submissions/s "
          f"(target > 1,000/s: {'OK' if rate > 1000 else 'MISSED'})")


if __name__ == "__main__":
    main()
