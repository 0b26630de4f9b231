"""Schemathesis against the app, in process, as every role: no server error, and every
answer is one the OpenAPI document declares (status, content type and body schema).

For each role (no key, party, provider, secretariat, admin), three passes:

* the coverage cases schemathesis derives from each operation's schema (boundaries, wrong
  types, missing and extra fields, valid and invalid), deterministic, an even sample of at
  most ``COVERAGE_PER_OPERATION`` per operation;
* cases generated from each schema by Hypothesis, valid and invalid (bounded examples per
  operation, derandomised so a run is reproducible);
* stateful scenarios that follow the document's links (a filed need to reading, changing,
  withdrawing and matching it; a page of proposals to deciding on its first).

Path ids that are well formed are replaced, in turn, by ids that exist (seeded needs,
offerings, proposals in every state, a key), so the cases reach the code behind the
404. The number of cases is counted: each role runs at least ``MIN_CASES / 5``.
The run uses PostgreSQL when ``MATCHER_TEST_DATABASE_URL`` is set (as in CI), else SQLite;
the two answered these cases identically when both were run. Fake encoders keep it fast
(about two minutes on two busy cores).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.python import asgi

from catalog.answers import load_answer_files
from catalog.loaders import seed_store
from matcher.api.app import create_app
from matcher.services.access import create_key
from matcher.store.db import open_store, session_scope
from matcher.validation import ID_PATTERN, MAX_INT32
from tests.api.conftest import fake_settings
from tests.conftest import _reset_postgres

pytestmark = pytest.mark.slow  # about two minutes of generated requests

ROLES: tuple[str | None, ...] = (None, "party", "provider", "secretariat", "admin")
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}
STATEFUL_SCENARIOS = 10
COVERAGE_PER_OPERATION = 100
MIN_CASES = 1000
INTEGER_IDS = ("proposal_id", "answer_id", "round_id")
PUBLIC = ("/v1/parties", "/v1/taxonomy", "/healthz", "/readyz", "/metrics")
BASE = "http://testserver"
WELL_FORMED = {
    "need_id": re.compile(ID_PATTERN),
    "offering_id": re.compile(ID_PATTERN),
    "key_id": re.compile(r"^k[0-9a-f]{12}$"),
}


@dataclass
class Target:
    schema: Any
    headers: dict[str | None, dict[str, str]]
    ids: dict[str, Iterator[Any]]
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def point_at_existing(self, case: Any) -> None:
        """Replace well-formed path ids by existing ones, in turn (ill-formed ones are the
        point of their case and stay)."""
        for name, value in list((case.path_parameters or {}).items()):
            if name in INTEGER_IDS:
                fits = isinstance(value, int) and 1 <= value <= MAX_INT32
            else:
                fits = isinstance(value, str) and bool(WELL_FORMED[name].match(value))
            if fits:
                case.path_parameters[name] = next(self.ids[name])

    def record(self, role: str | None, status: int) -> None:
        self.cases[f"{role}"] += 1
        self.statuses[status] += 1


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    # PostgreSQL when the tests have one (CI always does): it is the stricter engine, where
    # out-of-range integers, NUL bytes and over-long text were server errors. Else SQLite.
    url = os.environ.get("MATCHER_TEST_DATABASE_URL") or f"sqlite:///{data_dir / 'fuzz.sqlite3'}"
    if url.startswith("postgresql"):
        _reset_postgres(url)
    settings = fake_settings(data_dir, url)
    store = open_store(settings)
    seed_store(store.sessions)
    # name: (role, scope); "spare" is a key for the revocation route to revoke.
    scopes: dict[str, tuple[str, dict[str, str]]] = {
        "party": ("party", {"party": "KEN"}),
        "other_party": ("party", {"party": "PER"}),
        "provider": ("provider", {"provider": "unep"}),
        "secretariat": ("secretariat", {}),
        "admin": ("admin", {}),
        "spare": ("secretariat", {}),
    }
    with session_scope(store.sessions) as session:
        keys = {name: create_key(session, role, **scope) for name, (role, scope) in scopes.items()}  # type: ignore[arg-type]
    answers = _answers(store, data_dir)
    store.engine.dispose()
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers: dict[str | None, dict[str, str]] = {None: {}}
    headers.update({name: {"Authorization": f"Bearer {key.key}"} for name, key in keys.items()})
    ids = _seed(app, headers)
    ids["key_id"] = [keys["spare"].key_id]
    ids["answer_id"] = answers
    yield Target(schema, headers, {name: itertools.cycle(values) for name, values in ids.items()})
    asgi.shutdown_lifespans()


def _answers(store: Any, folder: Path) -> list[int]:
    """National-report answers of the two Parties (imported as the CLI does: there is no
    route that creates them)."""
    rows = [
        {
            "party": party,
            "cycle": 2025,
            "question_id": "q-capacity",
            "question": "What is missing?",
            "answer": text,
        }
        for party, text in (
            ("KEN", "We lack laboratory equipment to measure mercury in fish."),
            ("PER", "Faltan recursos para formalizar la minería aurífera artesanal."),
        )
    ]
    path = folder / "answers.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    with session_scope(store.sessions) as session:
        _, imported = load_answer_files(session, [path])
        return [answer.id for answer in imported]


def _seed(app: Any, headers: dict[str | None, dict[str, str]]) -> dict[str, list[Any]]:
    """Needs of two Parties (one confidential, one withdrawn), offerings of two providers
    (one inactive), a proposal in every state, and an open and a closed survey round."""
    client = asgi.get_client(app)

    def post(path: str, role: str, body: Any = None) -> Any:
        response = client.post(BASE + path, json=body, headers=headers[role])
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    needs = [
        post(
            "/v1/needs", "party", {"title": title, "description": f"{title}: we need technical assistance."}
        )["id"]
        for title in ("Mercury waste from hospitals", "Mercury-free gold mining", "Dental amalgam separators")
    ]
    needs.append(
        post(
            "/v1/needs", "party", {"title": "Stockpile", "description": "A stockpile.", "confidential": True}
        )["id"]
    )
    needs.append(
        post("/v1/needs", "other_party", {"title": "Lamps", "description": "Lamp collection."})["id"]
    )
    withdrawn = post("/v1/needs", "party", {"title": "Old request", "description": "No longer needed."})["id"]
    post(f"/v1/needs/{withdrawn}/withdraw", "party")
    offerings = [
        post(
            "/v1/offerings",
            "provider",
            {"provider": "UNEP", "title": "Waste support", "description": "Waste."},
        )["id"]
    ]
    inactive = post(
        "/v1/offerings", "provider", {"provider": "UNEP", "title": "Closed", "description": "Closed."}
    )["id"]
    client.patch(BASE + f"/v1/offerings/{inactive}", json={"active": False}, headers=headers["provider"])
    offerings += [inactive, "gef-trust-fund"]
    post("/v1/matching/runs", "secretariat", {"k": 3})
    queue = client.get(BASE + "/v1/proposals?limit=200", headers=headers["secretariat"]).json()["items"]
    assert len(queue) >= 8
    proposals = [item["id"] for item in queue[:8]]
    post(f"/v1/proposals/{proposals[0]}/accept", "secretariat")
    post(f"/v1/proposals/{proposals[1]}/accept", "secretariat")
    post(f"/v1/proposals/{proposals[1]}/introduce", "secretariat")
    post(f"/v1/proposals/{proposals[2]}/reject", "secretariat", {"reason": "The call is closed."})
    deadline = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    rounds = [
        post("/v1/survey/rounds", "secretariat", {"title": title, "deadline": deadline})["id"]
        for title in ("Open round", "Closed round")
    ]
    post(f"/v1/survey/rounds/{rounds[1]}/close", "secretariat")
    return {
        "need_id": [*needs, withdrawn],
        "offering_id": offerings,
        "proposal_id": proposals,
        "round_id": rounds,
    }


def _checks() -> list[Any]:
    from schemathesis import checks

    return [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
    ]


def _call_and_check(target: Target, case: Any, role: str | None) -> None:
    target.point_at_existing(case)
    response = case.call(headers=target.headers[role])
    target.record(role, response.status_code)
    case.validate_response(response, checks=_checks(), headers=target.headers[role])


def _coverage(target: Target, operation: Any, role: str | None) -> None:
    """Schemathesis's coverage cases of one operation (its own method only: other methods
    are the framework's 405, not this API's answers)."""
    config = target.schema.config.generation_for(operation=operation)
    cases = [
        case
        for case in target.schema.iter_coverage_cases(
            operation, generation_modes=list(MODES), generation_config=config
        )
        if case.method.upper() == operation.method.upper()
    ]
    # A body with many fields yields a few hundred cases; an even sample keeps the run short.
    for case in cases[:: math.ceil(len(cases) / COVERAGE_PER_OPERATION) or 1]:
        _call_and_check(target, case, role)


def _generated(target: Target, operation: Any, role: str | None, mode: GenerationMode) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _call_and_check(target, case, role)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:  # nothing to make invalid (no parameters): no negative case
            raise


def _scenarios(target: Target, role: str | None) -> list[str]:
    steps: list[str] = []

    class Scenario(target.schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": target.headers[role]}

        def after_call(self, response: Any, case: Any) -> None:
            steps.append(f"{case.method} {case.path}")
            target.record(role, response.status_code)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=_checks(), headers=target.headers[role])

    Scenario.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    return steps


@pytest.mark.parametrize("role", ROLES, ids=[role or "anonymous" for role in ROLES])
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    target: Target, role: str | None
) -> None:
    started = time.perf_counter()
    for result in target.schema.get_all_operations():
        operation = result.ok()
        if role is not None or operation.path in PUBLIC:  # without a key the rest is a 401 first
            _coverage(target, operation, role)
        for mode in MODES:
            _generated(target, operation, role, mode)
    steps = _scenarios(target, role)
    if role in ("secretariat", "admin"):  # the links lead to the proposals' decisions
        assert any(step.startswith("POST /v1/proposals/{proposal_id}/") for step in steps), Counter(steps)
    cases = target.cases[f"{role}"]
    assert cases >= MIN_CASES // len(ROLES), cases
    assert not any(status >= 500 for status in target.statuses), target.statuses
    print(
        f"\n{role or 'anonymous'}: {cases} cases in {time.perf_counter() - started:.0f} s; "
        f"all roles so far: {sum(target.cases.values())} cases, statuses {dict(sorted(target.statuses.items()))}"
    )
