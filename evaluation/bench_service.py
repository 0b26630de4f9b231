"""Service-level benchmarks of ``matcher bench``: what a worker does with a store behind it.

Each figure is a ratio against a baseline measured in the same run, the two measured in
alternation and repeated (medians), because the machines are shared:

* **write cost**: filing a need and changing an offering through the services (commit, the
  catalogue sync, embedding, automatic matching) at 1,000 and at 10,000 offerings;
* **donor view**: one offering against 1,000 open needs, against a stored need's ranking;
  and rankings timed while a thread serves donor views next to them, against rankings alone;
* **restart and memory**: a worker's start from its saved indexes and artefacts against a
  start from an empty index folder, in fresh processes, with the resident memory each start
  leaves, against the raw float32 bytes of every vector the worker holds;
* **stored needs at scale**: a stored need's match as served (rankings cached per catalogue
  version, an offering changing every ``CHANGE_EVERY`` requests) and as computed, against
  numpy brute force over the same vectors;
* **/healthz**: the liveness route of a `matcher serve` process over the largest catalogue
  against one over the smallest;
* **mixed load**: 8 clients on one `matcher serve` (40% match reads, 20% proposal lists, 20%
  needs filed, 20% offerings changed), each route's p50 against a single client's.

Synthetic stores are built with the fake encoders (``fake:512`` multilingual, ``fake:384``
English: the dimensions of the real models), so the figures measure the service, not a model.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.server import create_key, serving

ENCODER_SPECS = {"MATCHER_MULTILINGUAL_ENCODER": "fake:512", "MATCHER_ENGLISH_ENCODER": "fake:384"}
CHANGE_EVERY = 50  # stored-need requests per offering change, in the at-scale figure
Say = Callable[[str], None]


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentiles(values_ms: list[float]) -> dict[str, float]:
    array = np.asarray(values_ms, dtype=float)
    if len(array) == 0:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    return {name: float(np.percentile(array, q)) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


# ---------------------------------------------------------------------------- stores


@dataclass
class Store:
    """A synthetic store on disk: ``url`` (SQLite), ``index_dir``, ``data_dir``."""

    data_dir: Path
    size: int
    needs: int

    @property
    def url(self) -> str:
        return f"sqlite:///{self.data_dir / 'matcher.sqlite3'}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def build_store(data_dir: Path, size: int, needs: int, seed: int = 11) -> Store:
    """``size`` synthetic offerings and ``needs`` open needs (party KEN) in a new SQLite store,
    written in bulk (no catalogue versions: a worker starting on it reads everything)."""
    from sqlalchemy import insert

    from catalog.loaders import bundled_catalog_dir, load_files
    from evaluation.bench import synthetic
    from matcher.store.db import create_db_engine, make_session_factory, session_scope, upgrade
    from matcher.store.models import Need, Offering, Provider

    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir, size, needs)
    engine = create_db_engine(store.url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    data = synthetic(size, needs=needs, dimensions={"multilingual": 8}, seed=seed)
    with session_scope(sessions) as session:
        load_files(session, [bundled_catalog_dir() / "parties.csv"], actor="bench")
    with engine.begin() as connection:
        providers = sorted({offering.provider_id for offering in data.offerings})
        connection.execute(insert(Provider), [{"provider_id": p, "name": p} for p in providers])
        rows = [
            {
                "id": o.id,
                "provider_id": o.provider_id,
                "provider": o.provider,
                "provider_kind": "ngo",
                "title": o.title,
                "description": o.description,
                "sectors": list(o.sectors),
                "assistance_types": list(o.assistance_types),
                "regions": list(o.regions),
                "countries": [],
                "eligible_status": list(o.eligible_status),
                "languages": list(o.languages),
                "verified": o.verified,
                "active": True,
            }
            for o in data.offerings
        ]
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(Offering), rows[start : start + 5_000])
        connection.execute(
            insert(Need),
            [
                {
                    "id": n.id,
                    "party_iso3": "KEN",
                    "title": n.title,
                    "description": n.description,
                    "language": "en",
                    "sectors": list(n.sectors),
                    "assistance_types": [],
                    "inferred_sectors": [],
                    "inferred_assistance_types": [],
                    "status": "submitted",
                    "confidential": False,
                }
                for n in data.needs
            ],
        )
    engine.dispose()
    return store


def service_over(store: Store, *, matched: bool = False) -> tuple[Any, Any]:
    """A loaded ``MatchingService`` over ``store`` and its session factory; ``matched``: with
    every open need matched once (``match_all``), as automatic matching leaves a store."""
    from matcher.embeddings.encoders import build_encoders
    from matcher.services.matching import MatchingService
    from matcher.store.db import create_db_engine, make_session_factory, session_scope

    sessions = make_session_factory(create_db_engine(store.url))
    encoders = build_encoders(
        ENCODER_SPECS["MATCHER_MULTILINGUAL_ENCODER"], ENCODER_SPECS["MATCHER_ENGLISH_ENCODER"]
    )
    service = MatchingService(encoders=encoders, index_dir=store.index_dir, freshness_seconds=0.1)
    with session_scope(sessions) as session:
        service.load(session)
    if matched:
        match_all(service, sessions)
    return service, sessions


def match_all(service: Any, sessions: Any) -> None:
    """One matching run over every open need (the top 10 of each proposed), committed."""
    from matcher.services.access import SYSTEM
    from matcher.services.review import RunFilters, run_matching

    with sessions() as session:
        run_matching(session, service, SYSTEM, RunFilters())


# ---------------------------------------------------------------------------- write cost


def write_cost(sizes: tuple[int, ...], scratch: Path, rounds: int, say: Say) -> dict[str, Any]:
    """Filing a need and changing an offering's description through the services, at each
    size in turn (one of each per size per round): wall and CPU milliseconds, p50."""
    from matcher.services.access import SYSTEM
    from matcher.services.needs import create_need
    from matcher.services.offerings import update_offering

    workers = {}
    for size in sizes:
        say(f"write cost: {size:,} offerings")
        workers[size] = service_over(build_store(scratch / f"write-{size}", size, needs=200), matched=True)
    timings: dict[int, dict[str, dict[str, list[float]]]] = {
        size: {kind: {"wall": [], "cpu": []} for kind in ("need", "offering")} for size in sizes
    }
    chooser = random.Random(5)
    for number in range(rounds):
        for size in sizes if number % 2 == 0 else tuple(reversed(sizes)):
            service, sessions = workers[size]
            with sessions() as session:
                started, cpu = time.perf_counter(), time.process_time()
                create_need(
                    session,
                    SYSTEM,
                    {
                        "party": "KEN",
                        "title": f"Mercury waste request {number}",
                        "description": f"We need help with mercury waste storage and lamps, request {number}.",
                        "language": "en",
                    },
                    matching=service,
                )
                timings[size]["need"]["wall"].append((time.perf_counter() - started) * 1000)
                timings[size]["need"]["cpu"].append((time.process_time() - cpu) * 1000)
            with sessions() as session:
                offering = f"syn-{chooser.randrange(size):06d}"
                started, cpu = time.perf_counter(), time.process_time()
                update_offering(
                    session,
                    SYSTEM,
                    offering,
                    {"description": f"Mercury waste storage and disposal, revision {number}."},
                    matching=service,
                )
                timings[size]["offering"]["wall"].append((time.perf_counter() - started) * 1000)
                timings[size]["offering"]["cpu"].append((time.process_time() - cpu) * 1000)
    return {
        str(size): {
            kind: {
                "wall_p50": median(values["wall"]),
                "cpu_p50": median(values["cpu"]),
                "count": len(values["wall"]),
            }
            for kind, values in timings[size].items()
        }
        for size in sizes
    }


# ---------------------------------------------------------------------------- donor view


def donor_view(size: int, needs: int, scratch: Path, rounds: int, say: Say) -> dict[str, Any]:
    """The donor view over ``needs`` open needs against a stored need's ranking (uncached),
    and rankings with a donor-view thread beside them against rankings alone."""
    say(f"donor view: {needs:,} open needs")
    service, sessions = service_over(build_store(scratch / f"donor-{size}", size, needs=needs))
    state = service.state
    open_needs = list(state.needs)
    offerings = [offering.id for offering in state.engine.offerings[:200]]
    today = dt.date.today()

    def rank_once(number: int) -> float:
        need = open_needs[number % len(open_needs)]
        started = time.perf_counter()
        state.engine.rank(need.query, need.party, need_vectors=need.vectors, k=10, today=today)
        return (time.perf_counter() - started) * 1000

    def donor_once(session: Any, number: int) -> float:
        started = time.perf_counter()
        service.donor_view(session, offerings[number % len(offerings)], limit=10)
        return (time.perf_counter() - started) * 1000

    rankings: list[float] = []
    donors: list[float] = []
    alone: list[float] = []
    beside: list[float] = []
    with sessions() as session:
        for number in range(5):  # warm
            rank_once(number)
            donor_once(session, number)
        for round_number in range(rounds):
            rankings += [rank_once(round_number * 50 + n) for n in range(50)]
            donors += [donor_once(session, round_number * 50 + n) for n in range(50)]

    def serve_donors(stop: threading.Event) -> None:
        with sessions() as other:
            number = 0
            while not stop.is_set():
                donor_once(other, number)
                number += 1

    for _ in range(rounds):
        alone.append(percentiles([rank_once(n) for n in range(100)])["p99"])
        stop = threading.Event()
        thread = threading.Thread(target=serve_donors, args=(stop,))
        thread.start()
        try:
            beside.append(percentiles([rank_once(n) for n in range(100)])["p99"])
        finally:
            stop.set()
            thread.join()
    return {
        "size": size,
        "needs": len(open_needs),
        "ranking": percentiles(rankings),
        "donor": percentiles(donors),
        "ranking_alone_p99": median(alone),
        "ranking_beside_donor_p99": median(beside),
    }


# ---------------------------------------------------------------------------- restart and memory


def measure_load(url: str, index_dir: str, stored_queries: int = 0) -> dict[str, Any]:
    """In a fresh process: load a worker over ``url`` (timed, resident memory before and after),
    then optionally time stored-need matches at this size (see ``stored_at_scale``)."""
    import gc

    from evaluation.bench import resident_mb
    from matcher.embeddings.encoders import build_encoders
    from matcher.services.matching import MatchingService
    from matcher.store.db import create_db_engine, make_session_factory, session_scope

    sessions = make_session_factory(create_db_engine(url))
    encoders = build_encoders(
        ENCODER_SPECS["MATCHER_MULTILINGUAL_ENCODER"], ENCODER_SPECS["MATCHER_ENGLISH_ENCODER"]
    )
    service = MatchingService(encoders=encoders, index_dir=Path(index_dir))
    gc.collect()
    before = resident_mb()
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(sessions) as session:
        service.load(session)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    after = resident_mb()
    engine = service.state.engine
    sentences = sum(
        len(vectors)
        for row in range(len(engine.catalogue))
        if (vectors := engine.sentences.vectors(row)) is not None
    )
    active = int(engine.catalogue.active.sum())
    dimensions = {role: encoder.dimension for role, encoder in encoders.items()}
    offering_bytes = active * sum(dimensions.values()) * 4
    sentence_bytes = sentences * dimensions["multilingual"] * 4
    result: dict[str, Any] = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "resident_mb": after - before,
        "offering_vector_mb": offering_bytes / 2**20,
        "sentence_vector_mb": sentence_bytes / 2**20,
        "sentences": sentences,
        "offerings": len(engine.catalogue),
        "from_saved": service.artefacts_loaded,
        "rebuilt": list(service.indexes.rebuilt),
    }
    if stored_queries:
        match_all(service, sessions)
        result["stored"] = stored_at_scale(service, sessions, stored_queries)
    return result


def stored_at_scale(service: Any, sessions: Any, queries: int) -> dict[str, Any]:
    """Stored needs' matches as served (``rank_need``: cached per snapshot; one offering's
    description changes every ``CHANGE_EVERY`` requests and drops what it reaches) and as
    computed (the engine, no cache), and numpy brute-force top-10 over the same vectors
    (every role), alternating in rounds."""
    from matcher.embeddings.index import vector_id
    from matcher.services.access import SYSTEM
    from matcher.services.matching import need_profile, party_profile
    from matcher.services.offerings import update_offering
    from matcher.store.models import Need

    state = service.state
    engine = state.engine
    matrices = {}
    for role, index in service.indexes.indexes.items():
        ids = [vector_id(o.id) for o in engine.offerings if o.active]
        matrices[role] = np.vstack([index.vector(item) for item in ids]).astype(np.float32)
    with sessions() as session:
        needs = [(need_profile(row), party_profile(row.party)) for row in session.query(Need).limit(100)]
    open_needs = [state.needs.get(profile.id) for profile, _ in needs]
    today = dt.date.today()
    served: list[float] = []
    computed: list[float] = []
    brute: list[float] = []
    chooser = random.Random(3)
    with sessions() as session:
        for profile, party in needs:
            service.rank_need(session, profile, party, today=today)  # as automatic matching leaves them
        for number in range(queries):
            if number % CHANGE_EVERY == CHANGE_EVERY - 1:
                offering = engine.offerings[chooser.randrange(len(engine.offerings))].id
                update_offering(
                    session,
                    SYSTEM,
                    offering,
                    {"description": f"Revised programme {number}."},
                    matching=service,
                )
            profile, party = needs[number % len(needs)]
            started = time.perf_counter()
            service.rank_need(session, profile, party, today=today)
            served.append((time.perf_counter() - started) * 1000)
            need = open_needs[number % len(open_needs)]
            if need is not None:
                started = time.perf_counter()
                service.state.engine.rank(
                    need.query, need.party, need_vectors=need.vectors, k=10, today=today
                )
                computed.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                for role, matrix in matrices.items():
                    scores = matrix @ need.vectors[role]
                    top = np.argpartition(-scores, 10)[:10]
                    top[np.argsort(-scores[top])]
                brute.append((time.perf_counter() - started) * 1000)
    return {"served": percentiles(served), "computed": percentiles(computed), "brute": percentiles(brute)}


def _load_in_process(store: Store, stored_queries: int = 0) -> dict[str, Any]:
    code = (
        "import json, sys\n"
        "from evaluation.bench_service import measure_load\n"
        "print(json.dumps(measure_load(sys.argv[1], sys.argv[2], int(sys.argv[3]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, store.url, str(store.index_dir), str(stored_queries)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def restart_and_memory(store: Store, rounds: int, say: Say, stored_queries: int = 0) -> dict[str, Any]:
    """Starts from an empty index folder (the embedding cache warm after the first) and from
    the saved indexes and artefacts, alternating, each in a fresh process."""
    say(f"restart: {store.size:,} offerings, from scratch (cold embedding cache)")
    shutil.rmtree(store.index_dir, ignore_errors=True)
    cold = _load_in_process(store)
    scratch_runs, restart_runs = [], []
    for number in range(rounds):
        say(f"restart: {store.size:,} offerings, round {number + 1}")
        restart_runs.append(_load_in_process(store, stored_queries if number == rounds - 1 else 0))
        shutil.rmtree(store.index_dir, ignore_errors=True)
        scratch_runs.append(_load_in_process(store))
    if stored_queries and rounds == 0:
        restart_runs.append(_load_in_process(store, stored_queries))
    return {
        "size": store.size,
        "cold": cold,
        "scratch": scratch_runs,
        "restart": restart_runs,
        "scratch_seconds": median([run["seconds"] for run in scratch_runs]),
        "restart_seconds": median([run["seconds"] for run in restart_runs]),
        "restart_resident_mb": median([run["resident_mb"] for run in restart_runs]),
        "scratch_resident_mb": median([run["resident_mb"] for run in scratch_runs]),
        "offering_vector_mb": cold["offering_vector_mb"],
        "sentence_vector_mb": cold["sentence_vector_mb"],
        "stored": next((run["stored"] for run in restart_runs if "stored" in run), None),
    }


# ---------------------------------------------------------------------------- HTTP


@contextmanager
def server_over(store: Store, extra: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """`matcher serve` over ``store`` (its saved indexes and artefacts), with a secretariat key."""
    environment = {
        **os.environ,
        **ENCODER_SPECS,
        **(extra or {}),
        "MATCHER_DATA_DIR": str(store.data_dir),
        "MATCHER_NOTIFY_IN_SERVE": "false",
    }
    environment.pop("MATCHER_DATABASE_URL", None)
    key = create_key(environment, "--role", "secretariat")
    with serving(environment, timeout=1800) as base:
        yield base, key


async def _hammer(
    base: str,
    pick: Callable[[random.Random], tuple[str, str, dict[str, Any] | None]],
    headers: dict[str, str],
    seconds: float,
    clients: int,
) -> dict[str, dict[str, Any]]:
    import httpx

    timings: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient, number: int) -> None:
        chooser = random.Random(number)
        while time.perf_counter() < deadline:
            route, path, body = pick(chooser)
            method = route.split()[0]
            started = time.perf_counter()
            response = await client.request(method, f"{base}{path}", headers=headers, json=body)
            timings.setdefault(route, []).append((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                errors[route] = errors.get(route, 0) + 1

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(client_loop(client, number) for number in range(clients)))
    return {
        route: {"requests": len(values), "errors": errors.get(route, 0), **percentiles(values)}
        for route, values in timings.items()
    }


def healthz(stores: list[Store], seconds: float, rounds: int, clients: int, say: Say) -> dict[str, Any]:
    """`/healthz` on a server over each store, alternating rounds of ``clients`` clients."""

    def pick(_: random.Random) -> tuple[str, str, None]:
        return "GET /healthz", "/healthz", None

    results: dict[int, list[dict[str, Any]]] = {store.size: [] for store in stores}
    with ExitStack() as stack:
        servers = {}
        for store in stores:
            say(f"/healthz: serving {store.size:,} offerings")
            servers[store.size] = stack.enter_context(server_over(store))
        for _ in range(rounds):
            for store in stores:
                base, _ = servers[store.size]
                answer = asyncio.run(_hammer(base, pick, {}, seconds, clients))
                results[store.size].append(answer["GET /healthz"])
    return {
        str(size): {
            "p50": median([run["p50"] for run in runs]),
            "p99": median([run["p99"] for run in runs]),
            "requests": sum(run["requests"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
        }
        for size, runs in results.items()
    }


MIX = (
    ("GET /v1/needs/{id}/matches", 40),
    ("GET /v1/proposals", 20),
    ("POST /v1/needs", 20),
    ("PATCH /v1/offerings/{id}", 20),
)


def require_empty(database_url: str) -> None:
    """Refuse a database that holds any table: the bench files test needs and changes offerings,
    which must never land in a real store."""
    from sqlalchemy import inspect

    from matcher.settings import mask_password
    from matcher.store.db import create_db_engine

    engine = create_db_engine(database_url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise ValueError(
            f"the bench writes test data, so it needs an empty database; {mask_password(database_url)} "
            f"holds {len(tables)} table{'s' if len(tables) > 1 else ''}: {', '.join(sorted(tables)[:3])}"
            f"{', ...' if len(tables) > 3 else ''}"
        )


def mixed_load(
    seconds: float,
    clients: int,
    rounds: int,
    environment: dict[str, str],
    say: Say,
    *,
    workers: int = 1,
    database_url: str | None = None,
) -> dict[str, Any]:
    """The mix on one `matcher serve` over the bundled catalogue (the configured encoders):
    ``clients`` clients against one client, alternating, ``rounds`` times. ``workers``: its
    worker processes; ``database_url``: its store, which must be empty (a scratch SQLite file
    when None). Also returns each side's requests per second over all routes."""
    import httpx

    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, **environment, "MATCHER_DATA_DIR": scratch, "MATCHER_NOTIFY_IN_SERVE": "false"}
        env.pop("MATCHER_DATABASE_URL", None)
        if database_url:
            require_empty(database_url)
            env["MATCHER_DATABASE_URL"] = database_url
        key = create_key(env, "--role", "secretariat")
        say(f"mixed load: starting a server ({workers} worker(s))")
        with serving(env, workers=workers) as base:
            headers = {"Authorization": f"Bearer {key}"}
            needs = []
            for number in range(20):
                answer = httpx.post(
                    f"{base}/v1/needs",
                    headers=headers,
                    json={
                        "party": "KEN",
                        "title": f"Mercury waste from hospitals {number}",
                        "description": "Our hospitals need safe storage and disposal of mercury thermometers "
                        f"and lamps, in {number + 2} provinces.",
                    },
                    timeout=120,
                )
                answer.raise_for_status()
                needs.append(answer.json()["id"])
            offerings = {
                item["id"]: item["description"]
                for item in httpx.get(f"{base}/v1/offerings?limit=10", headers=headers, timeout=60).json()[
                    "items"
                ]
            }
            written = {"count": 0}
            weights = [weight for _, weight in MIX]

            def pick(chooser: random.Random) -> tuple[str, str, dict[str, Any] | None]:
                route = chooser.choices([name for name, _ in MIX], weights=weights)[0]
                written["count"] += 1
                count = written["count"]
                if route.startswith("GET /v1/needs"):
                    return route, f"/v1/needs/{chooser.choice(needs)}/matches", None
                if route == "GET /v1/proposals":
                    return route, "/v1/proposals?limit=50", None
                if route == "POST /v1/needs":
                    return (
                        route,
                        "/v1/needs",
                        {
                            "party": "KEN",
                            "title": f"Request {count}: mercury in artisanal gold mining",
                            "description": f"Miners in district {count} burn amalgam in the open; we need "
                            "retorts, training and health monitoring.",
                        },
                    )
                offering = chooser.choice(sorted(offerings))
                # A new description: embedded again, re-scored against the open needs, and the
                # needs whose proposals it moves or enters re-matched.
                return (
                    route,
                    f"/v1/offerings/{offering}",
                    {"description": f"{offerings[offering]} Revision {count}."},
                )

            single: list[dict[str, Any]] = []
            loaded: list[dict[str, Any]] = []
            for number in range(rounds):
                say(f"mixed load: round {number + 1}")
                single.append(asyncio.run(_hammer(base, pick, headers, seconds, 1)))
                loaded.append(asyncio.run(_hammer(base, pick, headers, seconds, clients)))
    routes = [name for name, _ in MIX]
    out: dict[str, Any] = {
        "clients": clients,
        "seconds": seconds,
        "rounds": rounds,
        "workers": workers,
        "store": "PostgreSQL" if database_url and database_url.startswith("postgresql") else "SQLite",
        "throughput": {
            side: sum(row["requests"] for run in runs for row in run.values()) / (seconds * rounds)
            for side, runs in (("single", single), ("loaded", loaded))
        },
        "routes": {},
    }
    for route in routes:
        out["routes"][route] = {
            "single_p50": median([run[route]["p50"] for run in single if route in run]),
            "p50": median([run[route]["p50"] for run in loaded if route in run]),
            "p99": median([run[route]["p99"] for run in loaded if route in run]),
            "requests": sum(run[route]["requests"] for run in loaded if route in run),
            "errors": sum(run[route]["errors"] for run in loaded if route in run)
            + sum(run[route]["errors"] for run in single if route in run),
        }
    return out
