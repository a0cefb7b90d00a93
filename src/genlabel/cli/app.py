"""``genlabel`` commands. Each is a thin layer over the library."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import typer
from tqdm import tqdm

from ..labels import LABEL_RULES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="GenLabel: mixup relabeling with generative models.",
)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


@app.command()
def intrusion(
    toy: str = typer.Option("gaussian9", help="toy data set"),
    n_samples: int = typer.Option(900, help="training points"),
    n_mix: int = typer.Option(4000, help="mixed points per rule"),
    alpha: float = typer.Option(1.0, help="Beta(alpha, alpha) mixing"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Share of mixed points whose top-1 label is not their region's class, per label rule."""
    from ..analysis import intrusion_share
    from ..data import make_toy

    try:
        X, y = make_toy(toy, n_samples, random_state=seed)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    rows = []
    for rule in LABEL_RULES:
        share = intrusion_share(X, y, rule, toy=toy, n_mix=n_mix, alpha=alpha, random_state=seed)
        rows.append([rule, f"{100 * share:.1f} %"])
    typer.echo(
        f"Manifold intrusion on {toy} ({n_samples} points, {n_mix} mixed points, alpha={alpha}):\n"
    )
    typer.echo(_markdown(["label rule", "mixed points labelled off their region"], rows))


@app.command()
def figures(
    out: Path = typer.Option(Path("figures"), "--out", help="folder for the PNG files"),
    only: str = typer.Option("", help="comma-separated subset of the figures"),
) -> None:
    """Write the analysis figures (SPEC §11) as PNG files and list them."""
    from ..plots import FIGURES, write_figures

    names = [n.strip() for n in only.split(",") if n.strip()] or None
    try:
        paths = []
        for name in tqdm(names or list(FIGURES), desc="figures", unit="fig"):
            paths += write_figures(out, [name])
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for path in paths:
        typer.echo(str(path))


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


SUITE_DEFAULTS = {
    "quick": {"model": "logistic", "trials": 2},
    "paper-logistic": {"model": "logistic", "trials": 5},
    "paper-mlp": {"model": "mlp", "trials": 5},
}


@app.command()
def bench(
    suite: str = typer.Option("quick", help="quick | paper-logistic | paper-mlp"),
    datasets: str = typer.Option(
        "",
        help="comma-separated data set ids (OpenML ids or embedded names); overrides the suite's",
    ),
    methods: str = typer.Option(
        "", help="comma-separated methods (default: all for quick, SPEC §9's for the paper suites)"
    ),
    model: str = typer.Option("", help="logistic | mlp (default: the suite's)"),
    trials: int = typer.Option(0, help="trials, seeds 0..trials-1 (default: the suite's)"),
    alpha: str = typer.Option("1", help="mixing alpha(s), comma-separated, e.g. 1,2"),
    fixed_split: bool = typer.Option(
        False, "--fixed-split", help="split seed 0 for every trial; vary only training"
    ),
    epochs: int = typer.Option(100, help="training epochs"),
    jobs: int = typer.Option(1, "--jobs", help="parallel jobs on this machine"),
    backend: str = typer.Option("joblib", help="joblib | dask"),
    scheduler: str = typer.Option(
        "", help="address of an existing Dask scheduler (tcp://host:port)"
    ),
    db: Path = typer.Option(
        None, "--db", help="SQLite store (default reports/<suite>/results.sqlite)"
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="folder of <id>.csv.gz files (default: ../shared/data/openml)"
    ),
    online: bool = typer.Option(False, "--online", help="fetch ids missing locally from OpenML"),
    measure: str = typer.Option("clean", help="clean | robust"),
    attack: str = typer.Option("fgsm", help="fgsm | pgd | autoattack (with --measure robust)"),
    eps: str = typer.Option(
        "0.1", help="attack radius as a fraction of the training value range; comma-separated"
    ),
    report: Path = typer.Option(
        None, "--report", help="write the report here afterwards (default reports/<suite>)"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run (or resume) a benchmark suite; finished cells are skipped."""
    from ..bench import (
        BENCH_METHODS,
        PAPER_METHODS,
        BenchSettings,
        ResultStore,
        plan_jobs,
        run_bench,
        write_report,
    )
    from ..bench.runner import job_config, planned_keys
    from ..data import DataError, load_dataset, suite_ids

    if suite not in SUITE_DEFAULTS:
        _fail(f"unknown suite {suite!r}; expected one of {', '.join(SUITE_DEFAULTS)}")
    model = model or SUITE_DEFAULTS[suite]["model"]
    if model not in ("logistic", "mlp"):
        _fail(f"unknown model {model!r}; expected logistic or mlp")
    trials = trials or SUITE_DEFAULTS[suite]["trials"]
    method_list = _split(methods) or list(BENCH_METHODS if suite == "quick" else PAPER_METHODS)
    unknown = [m for m in method_list if m not in BENCH_METHODS]
    if unknown:
        _fail(f"unknown methods {unknown}; expected some of {', '.join(BENCH_METHODS)}")
    if measure not in ("clean", "robust"):
        _fail(f"unknown measure {measure!r}; expected clean or robust")
    if attack not in ("fgsm", "pgd", "autoattack"):
        _fail(f"unknown attack {attack!r}; expected fgsm, pgd or autoattack")
    if backend not in ("joblib", "dask"):
        _fail(f"unknown backend {backend!r}; expected joblib or dask")
    try:
        alphas = [float(a) for a in _split(alpha)]
        eps_list = tuple(float(e) for e in _split(eps))
    except ValueError:
        _fail(f"--alpha and --eps take comma-separated numbers; got {alpha!r} and {eps!r}")
    try:
        ids = _split(datasets) or suite_ids(suite, data_dir)
        # Fail fast, with the id, before any work. Then run the smallest sets first, so that
        # a long run stopped early has finished whole data sets (the report needs every
        # method and trial of a set); the largest sets run last.
        loaded = {i: load_dataset(i, data_dir, online=online) for i in ids}
        ids = sorted(ids, key=lambda i: len(loaded[i].y))
    except DataError as exc:
        _fail(str(exc))
    settings = BenchSettings(
        epochs=epochs,
        fixed_split=fixed_split,
        data_dir=str(data_dir) if data_dir else None,
        online=online,
        measure=measure,
        attack=attack,
        eps=eps_list,
    )
    db = db or Path("reports") / suite / "results.sqlite"
    config = job_config(settings)
    with ResultStore(db) as store:
        keys = planned_keys(ids, method_list, model, range(trials), alphas, settings)
        clash = store.conflicting(config, keys)
        if clash:
            _fail(
                f"{db} already holds {len(clash)} of these cells computed with other settings "
                f"(e.g. {clash[0]}); use another --db"
            )
        done = store.done_keys()
        jobs_planned = plan_jobs(ids, method_list, model, range(trials), alphas, settings, done)
        todo = sum(1 for k in keys if k not in done)
        typer.echo(
            f"{len(keys)} cells, {len(keys) - todo} done, {todo} to run in {len(jobs_planned)} jobs -> {db}"
        )
        start = time.perf_counter()
        factory = None
        if measure == "robust":
            from ..robustness import autoattack_attacks
            from ..robustness.bench import attack_factory as factory

            if attack == "autoattack":
                for dataset_id in ids:
                    k = loaded[dataset_id].n_classes
                    typer.echo(
                        f"AutoAttack on {dataset_id} ({k} classes) runs: {', '.join(autoattack_attacks(k))}"
                    )
        run_id = store.begin_run(n_jobs=jobs, backend=backend, command=shlex.join(sys.argv))
        try:
            run_bench(
                jobs_planned,
                store,
                config,
                n_jobs=jobs,
                backend=backend,
                scheduler=scheduler or None,
                attack_factory=factory,
                progress=progress,
                run_id=run_id,
            )
        except ImportError as exc:
            _fail(str(exc))
        finally:
            store.end_run(run_id)
        typer.echo(f"finished in {time.perf_counter() - start:.1f} s")
        frame, runs = store.frame(), store.runs()
    out = report or Path("reports") / suite
    paths = write_report(frame, out, data_dir=str(data_dir) if data_dir else None, runs=runs)
    typer.echo(f"report: {paths[-1]}")


@app.command()
def report(
    db: Path = typer.Option(..., "--db", help="SQLite store written by 'genlabel bench'"),
    out: Path = typer.Option(
        Path("reports/report"), "--out", help="folder for report.md, results.csv and PNGs"
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="for data set names (manifest.csv)"),
    complete_only: bool = typer.Option(
        False,
        "--complete-only",
        help="only the data sets with every cell (e.g. while a suite is still running)",
    ),
) -> None:
    """Write report.md, results.csv and the plots from a store."""
    from ..bench import ResultStore, write_report

    if not db.is_file():
        _fail(f"no store at {db}; run 'genlabel bench --db {db}' first")
    with ResultStore(db) as store:
        frame, runs = store.frame(), store.runs()
    paths = write_report(
        frame,
        out,
        data_dir=str(data_dir) if data_dir else None,
        runs=runs,
        complete_only=complete_only,
    )
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
        check_data_dir(folder)
    except DataError as exc:
        _fail(str(exc))
    manifest = read_manifest(str(folder))
    rows = []
    for path in sorted(folder.glob("*.csv.gz"), key=lambda p: (len(p.name), p.name)):
        dataset_id = path.name.split(".")[0]
        meta = manifest.get(dataset_id, {})
        rows.append(
            [
                dataset_id,
                meta.get("name", "?"),
                meta.get("n_rows", "?"),
                meta.get("n_features", "?"),
                meta.get("n_classes", "?"),
                meta.get("in_133_list", "?"),
                meta.get("paper_tables", ""),
                meta.get("source_repo", "(no manifest entry)"),
            ]
        )
    typer.echo(
        _markdown(
            ["id", "name", "rows", "features", "classes", "in_133_list", "paper tables", "source"],
            rows,
        )
    )
    typer.echo(
        f"\n{len(rows)} data sets in {folder}; embedded (no download): {', '.join(EMBEDDED)}"
    )


@app.command()
def demo(
    out: Path = typer.Option(
        Path("reports/figures"), "--out", help="folder for the demo's figures"
    ),
) -> None:
    """The main job on embedded data (no download): the quick suite, its report, the figures."""
    start = time.perf_counter()
    quick = Path("reports/quick")
    bench(
        suite="quick",
        datasets="",
        methods="",
        model="",
        trials=0,
        alpha="1",
        fixed_split=False,
        epochs=100,
        jobs=2,
        backend="joblib",
        scheduler="",
        db=quick / "results.sqlite",
        data_dir=None,
        online=False,
        measure="clean",
        attack="fgsm",
        eps="0.1",
        report=quick,
        progress=True,
    )
    text = (quick / "report.md").read_text()
    section = text.split("### GenLabel (CV) against each baseline")[1].split("## ")[0]
    typer.echo("\nGenLabel (CV) against each baseline" + section)
    intrusion(toy="gaussian9", n_samples=900, n_mix=4000, alpha=1.0, seed=0)
    typer.echo("")
    figures(out=out, only="")
    typer.echo(
        f"\ndone in {time.perf_counter() - start:.1f} s; see {quick / 'report.md'} and {out}"
    )
