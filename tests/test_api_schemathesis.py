"""schemathesis against the OpenAPI document: every generated request gets a documented answer.

schemathesis' own pytest plugin does not run under pytest 9 yet, so the test
walks the operations itself and gives each one's hypothesis strategy to @given.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from test_api import auth, token_for
from test_inbox import routed  # noqa: F401  (the routed restaurant case)


def test_every_answer_is_documented_and_never_a_server_error(app, routed):  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # identity: answers are compressed for clients that accept it, and schemathesis's WSGI
    # transport reads the body as sent, without decoding a Content-Encoding.
    headers = {**auth(token_for(app, "sn-amr")), "Accept-Encoding": "identity"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/tasks", "/tasks/{task_id}",
                                             "/tasks/{task_id}/decisions", "/ratings",
                                             "/rectifications", "/tasks/{task_id}/revocation",
                                             "/tasks/{task_id}/application.pdf",
                                             "/tasks/{task_id}/certificate",
                                             "/tasks/{task_id}/materials/{material_id}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, suppress_health_check=list(HealthCheck), deadline=None,
                  database=None)
        def conforms(case):
            # Every check but "valid data is accepted": reusing an idempotency key for
            # another decision is refused (422) by design, and no schema can say a key
            # was used before.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        conforms()
