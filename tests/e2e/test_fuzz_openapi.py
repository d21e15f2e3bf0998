"""Schemathesis against each service's own OpenAPI document: no generated request gets a 5xx.

Every operation of auth, upload, tagging, ocr and search is called, as a fresh user with a
valid token and straight at the service (the ingress routes no /openapi.json), with
schemathesis' coverage cases (boundary and invalid values of every parameter and body
field) and with fuzzed cases that fit the schema and that do not. Each answer goes through
schemathesis' `not_a_server_error` check; every 5xx is collected, so one run lists them all.

Bounded and deterministic: all coverage cases up to a cap, a few fuzzed examples per
operation and mode, one fixed seed, no shrinking. DELETE /api/v1/auth/me runs last, for a
user of its own. (schemathesis' pytest plugin, `schema.parametrize()`, is not used: its lazy
fixture loader does not run under pytest 9.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok

from tests.e2e.client import PixtractClient, photo_jpeg

pytestmark = pytest.mark.e2e

SEED = 20261128
FUZZED_EXAMPLES = 8  # per operation and generation mode
MAX_COVERAGE_CASES = 150  # per operation
REQUEST_TIMEOUT_S = 30.0
FOREIGN_STACK = "needs each service's own /openapi.json, which the ingress does not route (foreign stack)"
# Failed logins the fuzzer causes count against this address (the services trust X-Forwarded-For
# from loopback only, as from a cluster ingress), not against 127.0.0.1 that every other test logs in from.
FUZZER_ADDRESS = "198.51.100.23"
ACCOUNT_DELETION = ("DELETE", "/api/v1/auth/me")

Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class FuzzRun:
    service: str
    headers: dict[str, str]
    calls: int = 0

    def __post_init__(self) -> None:
        self.server_errors: list[str] = []

    def call(self, case: Case[Operation]) -> None:
        response = case.call(headers=self.headers, timeout=REQUEST_TIMEOUT_S)
        self.calls += 1
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=self.headers)
        except (Failure, FailureGroup):
            request = response.request
            body = request.body if isinstance(request.body, bytes | str | None) else "<stream>"
            self.server_errors.append(
                f"{case.operation.label} -> {response.status_code}: {request.method} {request.url} "
                f"body={str(body)[:300]!r} answer={response.text[:300]!r}"
            )

    def cover(self, schema: schemathesis.BaseSchema, operation: Operation) -> None:
        """Schemathesis' coverage phase: boundary values and each way a request can be malformed."""
        generation = schema.config.generation_for(operation=operation, phase="coverage")
        cases = schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=generation
        )
        for number, case in enumerate(cases):
            if number == MAX_COVERAGE_CASES:
                break
            self.call(case)

    def fuzz(self, operation: Operation, mode: GenerationMode) -> None:
        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=FUZZED_EXAMPLES,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: every 5xx is recorded as found
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case[Operation]) -> None:
            self.call(case)

        # Unsatisfiable: nothing invalid can be made of this operation (no parameters, no body).
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            run()


def _fresh_user(stack: Any) -> PixtractClient:
    """A user with one stored image, so listings, reads and searches have something to return."""
    client = PixtractClient(stack.base_url)
    client.sign_up()
    uploaded = client.upload(("fuzz.jpg", photo_jpeg(41), "image/jpeg"))
    assert uploaded.status_code == 201, uploaded.text
    client.close()
    return client


def _operations(schema: schemathesis.BaseSchema) -> Iterator[Operation]:
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the {schema.location} document has an invalid operation: {result.err()}"
        operations.append(result.ok())
    # Deleting the account would turn every later call into a 401: it goes last.
    yield from sorted(operations, key=lambda op: (op.method.upper(), op.path) == ACCOUNT_DELETION)


def _fuzz_service(stack: Any, service: str) -> FuzzRun:
    if stack.handle is None:
        pytest.skip(FOREIGN_STACK)
    user = _fresh_user(stack)
    run = FuzzRun(service, {"Authorization": f"Bearer {user.token}", "X-Forwarded-For": FUZZER_ADDRESS})
    url = stack.handle.endpoints.services[service]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    for operation in _operations(schema):
        run.cover(schema, operation)
        for mode in GenerationMode:
            run.fuzz(operation, mode)
    return run


@pytest.mark.parametrize("service", ["auth", "upload", "tagging", "search"])
def test_no_generated_request_gets_a_server_error(stack: Any, service: str) -> None:
    run = _fuzz_service(stack, service)
    print(f"\n[fuzz] {service}: {run.calls} requests, {len(run.server_errors)} server errors")
    assert run.calls > 0
    assert not run.server_errors, f"{len(run.server_errors)} 5xx from {service}:\n" + "\n".join(run.server_errors)


def test_ocr_declares_no_operation_to_fuzz(stack: Any) -> None:
    """OCR is a Kafka worker: its document declares no operation (health and metrics are left out of it)."""
    run = _fuzz_service(stack, "ocr")
    assert (run.calls, run.server_errors) == (0, [])
