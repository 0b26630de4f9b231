"""The ``matcher`` command line.

Every command that touches the database first creates, migrates and (when empty)
seeds it with the bundled catalog, so any command works first on a fresh data folder.
Results go to standard output; logs and errors go to standard error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.rows import Kind
from matcher.settings import Settings, get_settings

if TYPE_CHECKING:
    from catalog.loaders import HistoryReport, ImportReport
    from matcher.services.matching import MatchingService
    from matcher.store.db import Store

app = typer.Typer(
    help="Minamata Match: pair Parties' assistance needs with programmes that can meet them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
db_app = typer.Typer(help="Database schema: create and migrate.", no_args_is_help=True)
catalog_app = typer.Typer(help="Import and export parties, offerings and needs.", no_args_is_help=True)
index_app = typer.Typer(help="The vector indexes of the offerings.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
match_app = typer.Typer(help="Matching runs: proposals for the secretariat to review.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, revoke, list.", no_args_is_help=True)
lifecycle_app = typer.Typer(
    help="Needs and proposals over time: reconfirm idle needs, close stale ones.", no_args_is_help=True
)
app.add_typer(index_app, name="index")
app.add_typer(keys_app, name="keys")
app.add_typer(match_app, name="match")
app.add_typer(lifecycle_app, name="lifecycle")
notify_app = typer.Typer(help="E-mail notices: deliver the outbox over SMTP.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")
answers_app = typer.Typer(
    help="National-report answers (Article 21) as statements of need for the assessment.",
    no_args_is_help=True,
)
report_app = typer.Typer(help="Documents for the Conference of the Parties.", no_args_is_help=True)
demo_app = typer.Typer(
    help="Example data for a first look (clearly marked, removable).", no_args_is_help=True
)
app.add_typer(answers_app, name="answers")
app.add_typer(report_app, name="report")
app.add_typer(demo_app, name="demo")
history_app = typer.Typer(
    help="Past assistance records: which programme delivered which help to whom.", no_args_is_help=True
)
app.add_typer(history_app, name="history")
model_app = typer.Typer(
    help="Learned re-rankers: train (promoted only if better on held-out cases), list, roll back.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")

err = typer.echo


@contextmanager
def _all_or_nothing(
    failure: str = "import rejected: {count} problem(s); nothing was written",
) -> Iterator[None]:
    """An import's refusal as the CLI shows it: every bad row, one summary line, exit 1."""
    from catalog.loaders import ImportRejected

    try:
        yield
    except ImportRejected as rejected:
        for error in rejected.errors:
            err(str(error), err=True)
        err(failure.format(count=len(rejected.errors)), err=True)
        raise typer.Exit(code=1) from None


def _echo_report(report: ImportReport | HistoryReport) -> None:
    for line in report.lines():
        typer.echo(line)
    if not report.changed:
        typer.echo("nothing changed")


def _log_to_stderr(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # bm25s sets its own logger to DEBUG when imported (later, lazily): filter at the handler.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Alembic narrates every migration step at INFO, and faiss reports at INFO each
    # optional CPU-specific build it looked for and did not find: only problems matter here.
    for noisy in ("alembic", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False) -> None:
    _log_to_stderr(verbose)


def open_store(*, seed: bool = True) -> Store:
    """The configured database, migrated and (``seed``, when empty) seeded with the bundled catalog."""
    from catalog.loaders import seed_store
    from matcher.store.db import open_store as open_configured_store

    store = open_configured_store(get_settings())
    if seed:
        seed_store(store.sessions)
    return store


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if needed and apply every pending migration."""
    from matcher.store.db import create_db_engine, current_revision, upgrade

    settings = get_settings()
    settings.ensure_data_dir()
    engine = create_db_engine(settings.resolved_database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    typer.echo(f"database at revision {after}" + (" (unchanged)" if before == after else f" (was {before})"))


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and whether it is up to date."""
    from matcher.store.db import create_db_engine, current_revision, head_revision

    engine = create_db_engine(get_settings().resolved_database_url)
    current, head = current_revision(engine), head_revision(engine)
    typer.echo(f"current: {current}  head: {head}  {'up to date' if current == head else 'needs upgrade'}")


# --------------------------------------------------------------------------- catalog

KindOption = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="parties, offerings or needs. Default: read from each file's fields "
        "(iso3 → parties; party + description → needs; provider + title → offerings).",
    ),
]


@catalog_app.command("load")
def catalog_load(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="JSON Lines (.jsonl) or CSV (.csv) files. None: the bundled catalog.", show_default=False
        ),
    ] = None,
    kind: KindOption = None,
) -> None:
    """Import rows, upserting by id, all or nothing across every file.

    If any row is bad nothing is written and each problem is listed as
    FILE:LINE: field: message. CSV: header row first, list fields separated by ';',
    booleans true/false, an empty cell means null. Unknown fields are ignored.
    """
    from catalog.loaders import bundled_catalog_files, load_files
    from matcher.store.db import session_scope

    checked_kind = _check_kind(kind)
    store = open_store(seed=bool(files))
    paths = list(files) if files else bundled_catalog_files()
    with _all_or_nothing(), session_scope(store.sessions) as session:
        report = load_files(session, paths, kind=checked_kind)
    _echo_report(report)


@catalog_app.command("export")
def catalog_export(
    kind: Annotated[str, typer.Option("--kind", help="offerings, needs or parties.")],
    file_format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="Output file. Default: standard output.")] = None,
) -> None:
    """Write every row of one kind in the interchange format (re-importable as is)."""
    from catalog.loaders import export_records, format_records

    checked_kind = _check_kind(kind)
    if checked_kind is None:  # --kind is required, so only a missing value gets here
        raise typer.BadParameter("give one of: parties, offerings, needs", param_hint="--kind")
    if file_format not in ("jsonl", "csv"):
        raise typer.BadParameter("use jsonl or csv", param_hint="--format")
    store = open_store()
    with store.sessions() as session:
        text = format_records(export_records(session, checked_kind), checked_kind, file_format)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err(f"wrote {out}", err=True)


def _check_kind(kind: str | None) -> Kind | None:
    from catalog.rows import KINDS

    if kind is None:
        return None
    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not one of: {', '.join(KINDS)}", param_hint="--kind")
    return cast(Kind, kind)


# --------------------------------------------------------------------------- index and ranking


def _matching_service(settings: Settings) -> MatchingService:
    from matcher.embeddings.encoders import build_encoders
    from matcher.services.matching import MatchingService

    encoders = build_encoders(
        settings.multilingual_encoder, settings.english_encoder, threads=settings.resolved_encoder_threads
    )
    return MatchingService(
        encoders=encoders,
        index_dir=settings.index_dir,
        weights=settings.ranking,
        proposals_per_need=settings.proposals_per_need,
        fit_threshold=settings.donor_min_score,
    )


def _load_with_progress(service: MatchingService, session: Session, total: int, label: str) -> None:
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit="text", file=sys.stderr, disable=None) as bar:
        service.load(session, progress=bar.update)


@index_app.command("build")
def index_build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the saved index is fresh.")] = False,
) -> None:
    """Build (or verify) the persisted FAISS index of the active offerings, one per encoder.

    An index on disk is reused only if its manifest matches the database (encoder,
    dimension, fingerprint of the rows); otherwise it is rebuilt. Embeddings come from
    the database cache when the text is unchanged.
    """
    import shutil

    from matcher.store.db import session_scope
    from matcher.store.models import Offering

    store = open_store()
    if force and store.settings.index_dir.exists():
        shutil.rmtree(store.settings.index_dir)
    service = _matching_service(store.settings)
    with session_scope(store.sessions) as session:
        active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
        _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
    for role, index in service.indexes.indexes.items():
        state = "rebuilt" if role in service.indexes.rebuilt else "fresh, loaded"
        typer.echo(
            f"{role}: {len(index)} offerings, {index.kind} index, encoder {index.encoder_name} ({state})"
        )


@app.command("rank")
def rank(
    offerings: Annotated[Path, typer.Option("--offerings", help="Offerings, JSON Lines or CSV.")],
    needs: Annotated[Path, typer.Option("--needs", help="Needs, JSON Lines or CSV.")],
    parties: Annotated[
        Path | None, typer.Option("--parties", help="Parties (CSV or JSON Lines). Default: the bundled list.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Results per need.")] = 10,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output JSON Lines. Default: standard output.")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history", help="Past assistance records (JSON Lines, the `matcher history load` format)."
        ),
    ] = None,
) -> None:
    """Rank each need against the given offerings, in an isolated temporary store.

    Writes one JSON object per need, in input order:
    {"need_id": ..., "vague": ..., "results": [{"offering_id": ..., "score": ..., "explanation": {...}}]}.
    Invalid rows abort before ranking, listed as FILE:LINE: field: message. The main
    database is not touched. With --history, the records are imported into the temporary
    store first, so the ranking uses their track records (a need that is also a past record
    is ranked without its own record).
    """
    import json
    import tempfile

    from catalog.loaders import load_files, load_history, read_sources
    from matcher.services.matching import need_profile, party_profile
    from matcher.store.db import create_db_engine, make_session_factory, session_scope, upgrade
    from matcher.store.models import Need, Offering, Party
    from matcher.taxonomy import bundled_catalog_dir

    settings = get_settings()
    party_file = parties or bundled_catalog_dir() / "parties.csv"
    with tempfile.TemporaryDirectory(prefix="matcher-rank-") as scratch:
        engine = create_db_engine(f"sqlite:///{Path(scratch) / 'rank.sqlite3'}")
        sessions = make_session_factory(engine)
        upgrade(engine)
        with _all_or_nothing("rank aborted: {count} bad row(s)"), session_scope(sessions) as session:
            load_files(session, [party_file], kind="parties", actor="rank")
            load_files(session, [offerings], kind="offerings", actor="rank")
            if history is not None:
                load_history(session, [history], actor="rank")
            load_files(session, [needs], kind="needs", actor="rank")
        order = [source.row.id for source in read_sources([needs], kind="needs")[0]]  # type: ignore[attr-defined]
        service = _matching_service(settings.model_copy(update={"data_dir": Path(scratch)}))
        lines = []
        with session_scope(sessions) as session:
            active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
            _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
            from tqdm import tqdm

            from matcher.engine.understanding import default_reader

            reader = default_reader()
            for need_id in tqdm(order, desc="ranking needs", file=sys.stderr, disable=None):
                need = session.get(Need, need_id)
                party = session.get(Party, need.party_iso3) if need is not None else None
                if need is None or party is None:
                    # The import above wrote both in this very store: a miss is a bug, not bad input.
                    raise RuntimeError(f"need {need_id!r} or its Party is missing from the temporary store")
                query = service.prepare(need_profile(need))
                ranking = service.rank_need(session, query, party_profile(party), k=k)
                coaching = reader.assess(query)
                lines.append(
                    json.dumps(
                        {
                            "need_id": need_id,
                            "vague": coaching.vague,
                            "results": [result.as_result() for result in ranking.results],
                        },
                        ensure_ascii=False,
                    )
                )
        engine.dispose()
    text = "".join(line + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err(f"wrote {len(lines)} rankings to {out}", err=True)


# --------------------------------------------------------------------------- history and models


@history_app.command("load")
def history_load(
    files: Annotated[list[Path], typer.Argument(help="History files, JSON Lines.", show_default=False)],
) -> None:
    """Import past assistance records, all or nothing across every file.

    One JSON object a line: a past need in the interchange format for needs, plus
    `served_by` (offering ids; may be empty), optional `declined`
    ([{"offering_id": ..., "reason": ...}]) and optional `year`. Each record becomes a
    closed need with an introduced proposal per offering that served it and a rejected one
    per offering it declined, audited as imported. If any record is bad nothing is written
    and each problem is listed as FILE:LINE: field: message. Importing twice changes nothing.
    """
    from catalog.loaders import load_history
    from matcher.store.db import session_scope

    store = open_store()
    with _all_or_nothing(), session_scope(store.sessions) as session:
        report = load_history(session, files)
    _echo_report(report)


@model_app.command("train")
def model_train() -> None:
    """Train a re-ranker on the store's history and decisions and promote it only if it beats
    the hand-set weights on held-out case groups (the lower end of the 95% interval above 0).

    Prints the verdict and both held-out nDCG@10 figures with the interval. A refused model
    is kept (state refused) for inspection; it never orders a ranking.
    """
    from matcher.services.access import SYSTEM
    from matcher.services.reranking import train_model
    from matcher.store.db import session_scope
    from matcher.store.models import Offering

    store = open_store()
    service = _matching_service(store.settings)
    with session_scope(store.sessions) as session:
        active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
        _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
        report = train_model(session, service, SYSTEM)
    for line in report.lines():
        typer.echo(line)


@model_app.command("list")
def model_list() -> None:
    """Every trained model, newest first: version, state, held-out nDCG@10 of the model and
    of the hand-set weights, the difference with its 95% interval, and why."""
    from matcher.services.reranking import list_models

    store = open_store()
    with store.sessions() as session:
        models = list_models(session)
        if not models:
            typer.echo("no model trained yet: rankings use the hand-set weights (`matcher model train`)")
            return
        typer.echo("version\tstate\ttrained\tmodel\thand-set\tdifference [95%]\treason")
        for model in models:
            evaluation = model.evaluation
            interval = evaluation.get("interval") or ["-", "-"]
            typer.echo(
                f"{model.version}\t{model.state}\t{model.created_at:%Y-%m-%d %H:%M}\t"
                f"{evaluation.get('model_ndcg10')}\t{evaluation.get('hand_ndcg10')}\t"
                f"{evaluation.get('difference')} [{interval[0]}, {interval[1]}]\t{model.reason}"
            )


@model_app.command("rollback")
def model_rollback() -> None:
    """Retire the active model and go back to the one promoted before it (or to the
    hand-set weights when there is none). Audited."""
    from matcher.services.access import SYSTEM, ServiceError
    from matcher.services.reranking import rollback
    from matcher.store.db import session_scope

    store = open_store()
    try:
        with session_scope(store.sessions) as session:
            retired, restored = rollback(session, SYSTEM)
            message = (
                f"retired {retired.version}; rankings now use "
                f"{restored.version if restored is not None else 'the hand-set weights'}"
            )
    except ServiceError as problem:
        err(f"error: {problem.message}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(message)


# --------------------------------------------------------------------------- serve


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes sharing the port (default MATCHER_WORKERS, 1). Each holds its own "
            "engine and stays fresh through the database; use PostgreSQL for more than one.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) over the configured store.

    On first start the database is created, migrated and seeded with the bundled
    catalog, and the vector indexes are built; later starts reuse them. Create a key
    with `matcher keys create` to call the /v1 routes. With --workers N, the store, the
    indexes and the engine's artefacts are prepared once here, then N uvicorn workers start
    from them.
    """
    import uvicorn

    from matcher.api.app import create_app

    count = workers or get_settings().workers
    # Every worker (spawned ones read their settings afresh) gives its encoders its share of the cores.
    os.environ["MATCHER_WORKERS"] = str(count)
    get_settings.cache_clear()
    settings = get_settings()
    err(
        f"serving {settings.display_database_url} on http://{host}:{port} (docs at /docs), "
        f"{count} worker{'s' if count > 1 else ''}",
        err=True,
    )
    if count == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if settings.resolved_database_url.startswith("sqlite"):
        err("several workers on SQLite: writes queue behind one another; use PostgreSQL", err=True)
    from matcher.store.db import session_scope

    # Prepared once, so the workers neither race to migrate and seed nor each build the indexes.
    store = open_store()
    service = _matching_service(store.settings)
    with session_scope(store.sessions) as session:
        service.load(session)
    service.checkpoint(force=True)
    store.engine.dispose()
    uvicorn.run(
        "matcher.api.app:create_app", factory=True, host=host, port=port, workers=count, log_level="info"
    )


# --------------------------------------------------------------------------- evaluation


RESULTS_DIR = Path("evaluation") / "results"


@app.command("eval")
def evaluate_quality(
    offerings: Annotated[
        Path | None, typer.Option("--offerings", help="Offerings (default: the bundled catalog).")
    ] = None,
    needs: Annotated[
        Path | None, typer.Option("--needs", help="Labelled needs (default: the dev set).")
    ] = None,
    qrels: Annotated[
        Path | None, typer.Option("--qrels", help="Graded judgments, JSON (default: the dev set's).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for quality.md and quality.png.")] = RESULTS_DIR,
    history: Annotated[
        Path | None,
        typer.Option("--history", help="Past assistance records (default: the dev history)."),
    ] = None,
    groups: Annotated[
        Path | None,
        typer.Option("--groups", help="Case group of each past need, JSON (default: the dev groups)."),
    ] = None,
    without_history: Annotated[
        bool, typer.Option("--without-history", help="Run only the systems without history.")
    ] = False,
) -> None:
    """Run every system (random, text-blind, BM25, dense per encoder, quick hybrid, the
    shipped pipeline with and without structured features or umbrella folding, and with
    history: the shipped pipeline, its served-neighbours part alone and the learned
    re-ranker) over a labelled set in one run, and write quality.md (metrics, per language,
    per sector, bootstrap intervals, targets with and without history, tagger and vague
    check) and quality.png.

    A need is ranked with the history minus its own case group's records: the dev needs
    leave-group-out, other sets with the whole history. Embeddings are cached under
    MATCHER_DATA_DIR/eval-cache, so a rerun only embeds new text.
    """
    from tqdm import tqdm

    from evaluation.dataset import DEFAULT_GROUPS, DEFAULT_HISTORY
    from evaluation.quality import SHIPPED, SHIPPED_HISTORY
    from evaluation.quality_report import run_and_write, targets

    settings = get_settings()
    history_file = None if without_history else history or DEFAULT_HISTORY
    groups_file = None if without_history else groups or DEFAULT_GROUPS
    bar = tqdm(
        total=10 if without_history else 13, desc="systems", unit="system", file=sys.stderr, disable=None
    )

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    report, run = run_and_write(
        offerings=offerings,
        needs=needs,
        qrels=qrels,
        out_dir=out,
        cache_dir=settings.data_dir / "eval-cache",
        multilingual=settings.multilingual_encoder,
        english=settings.english_encoder,
        progress=step,
        history=history_file,
        groups=groups_file,
    )
    bar.close()
    for name in (SHIPPED, SHIPPED_HISTORY) if history_file is not None else (SHIPPED,):
        system = run.system(name)
        typer.echo(
            f"{name} nDCG@10 {system.metric('ndcg@10'):.3f}, Recall@10 grade-2 {system.metric('recall2@10'):.3f}"
        )
        for target, goal, value, met in targets(run, name):
            typer.echo(f"  {target}: {value:.3f} (goal {goal}) {'met' if met else 'NOT met'}")
    typer.echo(f"wrote {report} and {report.with_suffix('.png')}")


@app.command("bench")
def bench(
    full: Annotated[
        bool, typer.Option("--full", help="Add the 100,000-offering point (several more minutes).")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for performance.md and performance.png.")
    ] = RESULTS_DIR,
    sizes: Annotated[
        str | None, typer.Option("--sizes", help="Catalog sizes, comma-separated (default 1000,10000).")
    ] = None,
    queries: Annotated[
        int, typer.Option("--queries", min=5, help="Stored-need matches timed per size.")
    ] = 200,
    api_seconds: Annotated[
        float, typer.Option("--api-seconds", min=0, help="Seconds of load per API route; 0 skips the API.")
    ] = 10.0,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="Worker processes of the server under the mixed load."),
    ] = 1,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="An EMPTY database for the server under the mixed load (e.g. PostgreSQL, for "
            "--workers 2); refused if it holds any table. Default: a scratch SQLite file.",
        ),
    ] = None,
) -> None:
    """Measure speed and scale, each figure next to a baseline from the same run: encoder
    throughput and the engine's embedding path; index build time, memory and match latency
    at 1k and 10k synthetic offerings (100k with --full) against numpy brute force; write
    cost at the two smallest sizes; the donor view over 1,000 open needs against a ranking;
    restart from saved artefacts against a build from scratch, and resident memory, at the
    largest size; /healthz at the largest against the smallest; API throughput and a mixed
    load of 8 clients against one (on `matcher serve --workers N` over --database-url when
    given). Writes performance.md and .png.
    """
    from tqdm import tqdm

    from evaluation.bench import BenchConfig, run_bench, targets, write_report
    from matcher.embeddings.encoders import build_encoders

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per load-test request otherwise
    settings = get_settings()
    chosen = tuple(int(size) for size in sizes.split(",")) if sizes else (1_000, 10_000)
    if full and 100_000 not in chosen:
        chosen = (*chosen, 100_000)
    if database_url:
        from evaluation.bench_service import require_empty

        try:
            require_empty(database_url)
        except ValueError as problem:
            raise typer.BadParameter(str(problem), param_hint="--database-url") from None
    config = BenchConfig(
        sizes=chosen,
        queries=queries,
        api_seconds=api_seconds,
        mixed_workers=workers,
        mixed_database_url=database_url,
    )
    encoders = build_encoders(settings.multilingual_encoder, settings.english_encoder)
    environment = {
        "MATCHER_MULTILINGUAL_ENCODER": settings.multilingual_encoder,
        "MATCHER_ENGLISH_ENCODER": settings.english_encoder,
    }
    bar = tqdm(desc="bench", file=sys.stderr, disable=None)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    results = run_bench(config, encoders, environment, progress=step)
    bar.close()
    report = write_report(results, out)
    for name, goal, value, met in targets(results):
        typer.echo(f"{name}: {value:.2f} (goal {goal}) {'met' if met else 'NOT met'}")
    typer.echo(f"wrote {report} and {report.with_suffix('.png')}")


# --------------------------------------------------------------------------- match


@match_app.command("run")
def match_run(
    region: Annotated[
        str | None, typer.Option("--region", help="Only needs of Parties in this UN region.")
    ] = None,
    sector: Annotated[
        str | None, typer.Option("--sector", help="Only needs with this sector (stated or inferred).")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only needs written in this language.")
    ] = None,
    party: Annotated[str | None, typer.Option("--party", help="Only needs of this Party (ISO3).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Proposals per need.")] = 10,
) -> None:
    """Propose the top k offerings for every open need (or a filtered set) for review.

    Decisions already taken are kept, a rejected pairing is never proposed again, and
    undecided proposals that fall out of the top k are dropped. Prints one line:
    `proposals: N added, N kept, N dropped`.
    """
    from matcher.services.access import SYSTEM, ServiceError
    from matcher.services.review import RunFilters, run_matching
    from matcher.store.db import session_scope
    from matcher.store.models import Offering
    from matcher.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    for value, family, hint in (
        (region, "regions", "--region"),
        (sector, "sectors", "--sector"),
        (language, "languages", "--language"),
    ):
        if value is not None and value not in taxonomy.allowed(family):
            raise typer.BadParameter(
                f"{value!r} is not one of: {', '.join(taxonomy.allowed(family))}", param_hint=hint
            )
    store = open_store()
    service = _matching_service(store.settings)
    try:
        with session_scope(store.sessions) as session:
            active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
            _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
            report = run_matching(session, service, SYSTEM, RunFilters(region, sector, language, party, k))
    except ServiceError as problem:
        err(f"error: {problem.message}", err=True)
        raise typer.Exit(code=2) from None
    err(f"{report.needs} open need(s) ranked", err=True)
    typer.echo(report.summary())


# --------------------------------------------------------------------------- lifecycle


@lifecycle_app.command("run")
def lifecycle_run() -> None:
    """One lifecycle pass now (every `matcher serve` also runs one a day).

    Open needs with no change for MATCHER_RECONFIRM_AFTER_DAYS are asked to reconfirm;
    needs asked MATCHER_RECONFIRM_GRACE_DAYS ago and not reconfirmed are closed with their
    undecided proposals; undecided proposals of programmes past their closing date are
    closed. Prints one summary line.
    """
    from matcher.services.lifecycle import run_lifecycle
    from matcher.store.db import session_scope

    store = open_store()
    settings = store.settings
    with session_scope(store.sessions) as session:
        report = run_lifecycle(
            session,
            reconfirm_after_days=settings.reconfirm_after_days,
            grace_days=settings.reconfirm_grace_days,
        )
    typer.echo(report.summary())


# --------------------------------------------------------------------------- needs assessment


@answers_app.command("load")
def answers_load(
    files: Annotated[list[Path], typer.Argument(help="JSON Lines (.jsonl) or CSV (.csv) files.")],
    drafts: Annotated[
        bool,
        typer.Option(
            "--drafts", help="Make a draft need (for the Party to confirm) of each answer without one."
        ),
    ] = False,
) -> None:
    """Import free-text answers of national reports, all or nothing across every file.

    Fields: party, cycle (e.g. 2021, 2025), question_id, question, answer, optional
    language (other fields are ignored). Each answer is read like a need (language,
    sectors, assistance types, vague flag, challenge kind). Answers are upserted by
    (party, cycle, question_id): loading a file twice changes nothing. If any line is bad,
    nothing is written and each problem is listed as FILE:LINE: field: message.
    """
    from catalog.answers import load_answer_files
    from matcher.services.access import SYSTEM
    from matcher.services.answers import make_drafts
    from matcher.store.db import session_scope

    store = open_store()
    with _all_or_nothing(), session_scope(store.sessions) as session:
        report, stored = load_answer_files(session, files)
        ids = [answer.id for answer in stored]
    _echo_report(report)
    if drafts:
        from matcher.store.models import ReportAnswer

        service = _matching_service(store.settings)
        with session_scope(store.sessions) as session:
            _load_with_progress(service, session, 0, "loading the matching engine")
            answers = list(session.scalars(select(ReportAnswer).where(ReportAnswer.id.in_(ids))))
            made = make_drafts(session, SYSTEM, answers, matching=service)
        typer.echo(f"draft needs: {made} made")


@report_app.command("assessment")
def report_assessment(
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD). Default: every record.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD). Default: today.")] = None,
    language: Annotated[
        str, typer.Option("--lang", help="Document language: ar, zh, en, fr, ru or es.")
    ] = "en",
    file_format: Annotated[str, typer.Option("--format", help="pdf, docx or html.")] = "pdf",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file. Default: assessment-LANG.FORMAT.")
    ] = None,
) -> None:
    """Write the needs-assessment synthesis (Article 14(4)) from the database alone: sources
    and coverage, needs by sector, assistance type, challenge kind, region and language,
    vague statements and coaching, proposals and outcomes with amounts mobilised, unmet needs
    and supply gaps, change since the previous period (the same length before --from), and a
    method annex with the query behind every figure. PDF needs Chromium (Debian's package).
    """
    import datetime as dt

    from matcher.documents.assessment import FORMATS, DocumentError, document_view, render
    from matcher.documents.text import DOCUMENT_LANGUAGES
    from matcher.services.access import SYSTEM
    from matcher.services.assessment import build_assessment

    if language not in DOCUMENT_LANGUAGES:
        raise typer.BadParameter(f"one of {', '.join(DOCUMENT_LANGUAGES)}", param_hint="--lang")
    if file_format not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    days = []
    for value, hint in ((start, "--from"), (end, "--to")):
        try:
            days.append(dt.date.fromisoformat(value) if value else None)
        except ValueError:
            raise typer.BadParameter("a date as YYYY-MM-DD", param_hint=hint) from None
    if days[0] and days[1] and days[0] > days[1]:
        raise typer.BadParameter("--from is after --to", param_hint="--from")
    store = open_store()
    settings = store.settings
    with store.sessions() as session:
        assessment = build_assessment(
            session,
            SYSTEM,
            start=days[0],
            end=days[1],
            unmet_threshold=settings.unmet_score_threshold,
            unmet_after_days=settings.unmet_after_days,
        )
    try:
        content = render(document_view(assessment, language), file_format)
    except DocumentError as problem:
        err(f"error: {problem}", err=True)
        raise typer.Exit(code=2) from None
    target = out or Path(f"assessment-{language}.{file_format}")
    target.write_bytes(content)
    typer.echo(f"wrote {target} ({len(content):,} bytes; {assessment['sources'].total} statements of need)")


@demo_app.command("load")
def demo_load() -> None:
    """Add example needs (six languages, some vague), national-report answers, a survey
    round, draft needs, decisions and outcomes with amounts, all marked as examples (ids
    starting demo-, titles starting [Example]). A second load changes nothing."""
    from matcher.services.demo import is_loaded, load_demo
    from matcher.store.db import session_scope
    from matcher.store.models import Offering

    store = open_store()
    with store.sessions() as session:
        if is_loaded(session):
            typer.echo("the demo data is already loaded (remove it with `matcher demo remove`)")
            return
    service = _matching_service(store.settings)
    with session_scope(store.sessions) as session:
        active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
        _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
        report = load_demo(session, service)
    typer.echo(report.summary())


@demo_app.command("remove")
def demo_remove() -> None:
    """Remove every example of `matcher demo load` (and nothing else). Audit events stay:
    they are append-only, and record the demo under the actor key:demo."""
    from matcher.services.demo import remove_demo
    from matcher.store.db import session_scope
    from matcher.store.models import Offering

    store = open_store()
    service = _matching_service(store.settings)
    with session_scope(store.sessions) as session:
        active = session.scalar(select(func.count()).select_from(Offering).where(Offering.active)) or 0
        _load_with_progress(service, session, active * len(service.encoders), "embedding offerings")
        report = remove_demo(session, service)
    typer.echo(report.summary())


# --------------------------------------------------------------------------- keys


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="party, provider, secretariat or admin.")],
    party: Annotated[str | None, typer.Option("--party", help="ISO3 code (party keys only).")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="provider_id (provider keys only).")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="A note: whose key this is.")] = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="The key holder's e-mail address: notices for its role and scope go there."
        ),
    ] = None,
) -> None:
    """Create an API key. Prints the key id, then the key itself alone on the last line.

    The key is shown this once; only a digest of it is stored.
    """
    from matcher.services.access import ServiceError, create_key
    from matcher.store.db import session_scope

    store = open_store()
    try:
        with session_scope(store.sessions) as session:
            new = create_key(session, role, party=party, provider=provider, label=label, email=email)
    except ServiceError as problem:
        err(f"error: {problem.message}", err=True)
        raise typer.Exit(code=2) from None
    scope = f" for {party.upper()}" if party else f" for {provider}" if provider else ""
    typer.echo(f"key id: {new.key_id} (role {role}{scope})")
    typer.echo(new.key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (not the key).")]) -> None:
    """Revoke a key: from now on it gets 401. Nothing is deleted."""
    from matcher.services.access import ServiceError, revoke_key
    from matcher.store.db import session_scope
    from matcher.store.models import ApiKey

    store = open_store()
    try:
        with session_scope(store.sessions) as session:
            already = session.get(ApiKey, key_id)
            was_revoked = already is not None and already.revoked_at is not None
            revoke_key(session, key_id)
    except ServiceError as problem:
        err(f"error: {problem.message}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{key_id} was already revoked" if was_revoked else f"revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """Key ids, roles, scopes, state, labels and e-mail addresses; never the keys."""
    from matcher.services.access import list_keys

    store = open_store()
    with store.sessions() as session:
        keys = list_keys(session)
        if not keys:
            typer.echo("no keys yet: create one with `matcher keys create --role admin`")
            return
        typer.echo("id\trole\tscope\tstate\tlabel\temail")
        for key in keys:
            scope = key.party_iso3 or key.provider_id or "-"
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.role}\t{scope}\t{state}\t{key.label or ''}\t{key.email or ''}")


# --------------------------------------------------------------------------- notify


@notify_app.command("run")
def notify_run(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Deliver everything due now, print one summary line and exit (for cron)."
        ),
    ] = False,
) -> None:
    """Deliver the queued e-mail notices through MATCHER_SMTP_URL.

    Without --once it keeps running, looking for due notices every
    MATCHER_NOTIFY_POLL_SECONDS, until Ctrl-C or SIGTERM, and prints a summary line after
    each pass that sent or failed something. With --once it delivers what is due and prints
    `notices: N sent, N failed, N waiting`; it exits 1 when the SMTP server could not be
    reached, else 0.

    Only one process sends at a time (the database lease "notifications", also held by the
    sender inside `matcher serve`): a run that finds another sender at work says so and
    sends nothing. Delivery is at least once: a notice is marked sent only after the server
    accepted it, and one interrupted in between is sent again with the same Message-ID.
    Failed notices are retried 30 s, 1 min, 2 min, ... up to an hour apart, never dropped.
    Notices of recipients who chose a daily digest go out together at MATCHER_DIGEST_HOUR (UTC).
    """
    import contextlib
    import signal

    from matcher.services.notifications import NotificationSender

    settings = get_settings()
    store = open_store()
    try:
        sender = NotificationSender(store.sessions, settings)
    except ValueError as problem:
        err(f"error: {problem}", err=True)
        raise typer.Exit(code=2) from None
    if once:
        report = sender.drain()
        typer.echo(report.summary())
        raise typer.Exit(code=1 if report.error else 0)
    if settings.smtp_url is None:
        err(
            "error: MATCHER_SMTP_URL is not set, so there is nowhere to send; notices wait in the outbox",
            err=True,
        )
        raise typer.Exit(code=2)
    from matcher.services.mail import masked_url

    err(
        f"sending notices through {masked_url(settings.smtp_url.get_secret_value())} every "
        f"{settings.notify_poll_seconds:g} s (Ctrl-C to stop)",
        err=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sender.stop())
    # Ctrl-C ends the loop, which gives the lease back on its way out.
    with contextlib.suppress(KeyboardInterrupt):
        sender.run_until_stopped(on_report=lambda report: typer.echo(report.summary()))
    err("stopped", err=True)


if __name__ == "__main__":  # pragma: no cover
    app()
