"""``genlabel bench``, ``report``, ``datasets`` and ``demo``: the tabular benchmark."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from ..registry import DEFAULT_LATENT, METHODS, SUITES, TABULAR_MODELS, method_names
from .app import (
    app,
    claim_timeout_option,
    fail,
    floats,
    markdown,
    number,
    only_with,
    report_out_option,
    run_session,
    split_list,
    unset_option,
)

#: "vanilla (erm), mixup (linear), ...": every tabular method with its aliases.
_METHODS = ", ".join(
    f"{name} ({', '.join(METHODS[name].aliases)})" if METHODS[name].aliases else name
    for name in method_names(models=TABULAR_MODELS)
)
_SUITES = "; ".join(
    f"{s.name} ({s.summary}, model {s.model}, {s.trials} trials)" for s in SUITES.values()
)
_TRIALS = ", ".join(f"{s.name} {s.trials}" for s in SUITES.values())


# Long only by its typer signature: every option is declared, with its help, as a parameter.
@app.command()
def bench(
    ctx: typer.Context,
    suite: str = typer.Option("quick", help=f"the suite: {_SUITES}"),
    datasets: str = typer.Option(
        "",
        help="comma-separated data set ids (OpenML ids or embedded names); with the --csv "
        "files, replaces the suite's",
    ),
    csv: list[Path] = typer.Option(
        [],
        "--csv",
        help="your own CSV or CSV.gz file (repeat for several), named by its file's stem; "
        "needs --label",
    ),
    label: str = typer.Option(None, "--label", help="the class column of the --csv files"),
    methods: str = typer.Option(
        "", help=f"comma-separated methods (default: the suite's), of: {_METHODS}; aliases in ()"
    ),
    model: str = unset_option(help=f"{' | '.join(TABULAR_MODELS)} (default: the suite's)"),
    trials: int = unset_option(
        help=f"trials, seeds 0..trials-1 (default: the suite's: {_TRIALS})", callback=number(1)
    ),
    alpha: str = typer.Option(
        "1", help="mixing alpha(s) >= 0, comma-separated, e.g. 1,2", callback=number(0, many=True)
    ),
    latent: str = unset_option(
        help="GenLabel with the MLP: two_model (densities on a separately trained vanilla "
        "model's features; a fresh model trains all layers) | reference (warm-up, then a new "
        "last layer on frozen features) | input (densities on the inputs) (default: "
        f"{DEFAULT_LATENT}); not with the logistic model",
    ),
    class_prior: bool = typer.Option(
        False, "--class-prior", help="GenLabel labels from log pi_c + log p_c"
    ),
    # As bench's and images' --label-classes: alike but for the help, which says what the
    # option does in each command.
    label_classes: str = typer.Option(
        "all",
        "--label-classes",
        help="GenLabel labels over all classes (the paper) | mixed (only the two classes "
        "each point was mixed from)",
    ),
    fixed_split: bool = typer.Option(
        False, "--fixed-split", help="split seed 0 for every trial; vary only training"
    ),
    epochs: int = typer.Option(100, help="training epochs", callback=number(1)),
    jobs: int = typer.Option(
        1,
        "--jobs",
        help="parallel jobs on this machine (-1: one per core); at most one per job to run",
    ),
    backend: str = typer.Option("joblib", help="joblib | dask"),
    scheduler: str = typer.Option(
        "", help="address of an existing Dask scheduler (tcp://host:port); with --backend dask"
    ),
    db: Path = unset_option(
        "--db",
        help="SQLite store (default: reports/<suite>/results.sqlite, or "
        "reports/custom/results.sqlite with --datasets or --csv)",
    ),
    data_dir: Path = unset_option(
        "--data-dir",
        help="folder of <id>.csv.gz files (default: $GENLABEL_DATA/openml, or "
        "../shared/data/openml beside a checkout)",
    ),
    online: bool = typer.Option(False, "--online", help="fetch ids missing locally from OpenML"),
    measure: str = typer.Option("clean", help="clean | robust"),
    attack: str = typer.Option(
        "fgsm",
        help="fgsm | pgd | autoattack | square, or several comma-separated, e.g. fgsm,pgd (with"
        " --measure robust; each model is trained once and attacked by each)",
    ),
    eps: str = typer.Option(
        "0.1",
        help="attack radius(es) in [0, 1], as a fraction of each feature's training range "
        "(1: the whole range); comma-separated (with --measure robust)",
        callback=number(0, 1, many=True),
    ),
    out: Path = report_out_option("--report", example="wine"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    claim_timeout: float = claim_timeout_option(),
) -> None:
    """Run (or resume) a benchmark; finished cells are skipped, then write the report."""
    from ..bench import BenchError, BenchSession, BenchSettings

    only_with(ctx, backend == "dask", "--backend dask", "scheduler")
    only_with(ctx, measure == "robust", "--measure robust", "attack", "eps")
    settings = BenchSettings(
        epochs=epochs,
        fixed_split=fixed_split,
        data_dir=str(data_dir) if data_dir else None,
        online=online,
        measure=measure,
        attack=attack,
        eps=tuple(floats(eps, "--eps")),
        latent=latent,
        class_prior=class_prior,
        label_classes=label_classes,
    )
    try:
        session = BenchSession(
            suite=suite, datasets=split_list(datasets), csv=csv, label=label,
            methods=split_list(methods),
            model=model, trials=trials, alphas=floats(alpha, "--alpha"), settings=settings,
            db=db, out=out, jobs=jobs, backend=backend, scheduler=scheduler or None,
            progress=progress, log=typer.echo, claim_timeout=claim_timeout,
        )  # fmt: skip
    except BenchError as exc:
        fail(str(exc))
    run_session(session, (BenchError, ImportError))
    _echo_results(session)


def _echo_results(session) -> None:
    """The report's accuracy table in the terminal, after the run (as ``demo`` prints its)."""
    from ..bench.report import results_lines

    lines = results_lines(session.results(), session.settings.data_dir)
    if lines:
        typer.echo("\n" + "\n".join(lines).rstrip())


@app.command()
def report(
    db: Path = typer.Option(..., "--db", help="SQLite store written by 'genlabel bench'"),
    out: Path = unset_option(
        "--out",
        help="folder for report.md, results.csv and PNGs (default: beside the store, named "
        "after it: runs/wine.sqlite -> runs/wine/)",
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="for data set names (manifest.csv)"),
    complete_only: bool = typer.Option(
        False,
        "--complete-only",
        help="only the data sets with every cell (e.g. while a suite is still running)",
    ),
) -> None:
    """Write report.md, results.csv and the plots from a store (read-only mounts work)."""
    from ..bench import ResultStore, StoreError, write_report
    from ..bench.report import report_folder
    from ..bench.store import folder_message

    if db.is_dir():
        fail(folder_message(db))
    if not db.is_file():
        fail(f"no store at {db}; run 'genlabel bench --db {db}' first")
    try:
        with ResultStore(db, read_only=True) as store:
            frame, runs = store.frame(), store.runs()
    except StoreError as exc:
        fail(str(exc))
    try:
        paths = write_report(
            frame,
            out or report_folder(db),
            data_dir=str(data_dir) if data_dir else None,
            runs=runs,
            complete_only=complete_only,
        )
    except OSError as exc:
        fail(f"cannot write the report: {exc}; give --out a folder you can write")
        raise  # unreachable: fail exits
    for path in paths:
        typer.echo(str(path))


@app.command("datasets")
def datasets_cmd(
    data_dir: Path = typer.Option(
        None, "--data-dir", help="folder of <id>.csv.gz files and manifest.csv"
    ),
) -> None:
    """List the data sets of a folder: ids, names, sizes, provenance (and the embedded ones)."""
    from ..data import EMBEDDED, DataError, check_data_dir, openml_dir, read_manifest

    try:
        folder = openml_dir(data_dir)
        check_data_dir(folder, online_hint=False)  # listing is local: no --online here
    except DataError as exc:
        fail(str(exc))
    manifest = read_manifest(str(folder))
    rows = []
    for path in sorted(folder.glob("*.csv.gz"), key=lambda p: (len(p.name), p.name)):
        meta = manifest.get(path.name.split(".")[0], {})
        rows.append(
            [path.name.split(".")[0]]
            + [
                str(meta.get(key, "?"))
                for key in ("name", "n_rows", "n_features", "n_classes", "in_133_list")
            ]
            + [meta.get("paper_tables", ""), meta.get("source_repo", "(no manifest entry)")]
        )
    header = ["id", "name", "rows", "features", "classes", "in_133_list", "paper tables", "source"]
    typer.echo(markdown(header, rows))
    typer.echo(
        f"\n{len(rows)} data sets in {folder}; embedded (no download): {', '.join(EMBEDDED)}"
    )


@app.command()
def demo(
    out: Path = typer.Option(
        Path("reports/figures"), "--out", help="folder for the demo's figures"
    ),
    no_figures: bool = typer.Option(
        False,
        "--no-figures",
        help="skip the figures (a rerun draws only the figures whose inputs changed)",
    ),
    claim_timeout: float = claim_timeout_option(),
) -> None:
    """The main job on embedded data (no download): the quick suite, its report, the figures."""
    from ..bench import BenchError, BenchSession
    from ..bench.report import mean_accuracy, win_tie_loss
    from .analysis import figures, intrusion

    start = time.perf_counter()
    quick = Path("reports/quick")
    try:
        jobs = min(2, os.cpu_count() or 1)  # two, or the one core of a one-core machine
        session = BenchSession(
            suite="quick", db=quick / "results.sqlite", jobs=jobs, log=typer.echo,
            claim_timeout=claim_timeout,
        )  # fmt: skip
    except BenchError as exc:
        fail(str(exc))
    # As 'genlabel bench': Ctrl-C says how many cells are stored and exits 130.
    run_session(session, (BenchError,))
    report_md = session.out / "report.md"
    clean = session.results().query("measure == 'clean' and model == 'logistic'")
    typer.echo(
        "\nGenLabel (CV) against each baseline (share of data sets, ±0.5 points = on par):\n"
    )
    table = win_tie_loss(mean_accuracy(clean))
    typer.echo(markdown(list(table.columns), table.astype(str).values.tolist()))
    typer.echo("")
    intrusion(toy="gaussian9", n_samples=900, n_mix=4000, alpha=1.0, density="gm", seed=0)
    typer.echo("")
    if no_figures:
        typer.echo(f"\ndone in {time.perf_counter() - start:.1f} s; see {report_md}")
        return
    figures(out=out, only="", redraw=False, progress=True)
    typer.echo(f"\ndone in {time.perf_counter() - start:.1f} s; see {report_md} and {out}")
