"""The benchmark scripts run (their numbers are measurements, not tested here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_script(name: str, args: list[str], timeout: int) -> str:
    """A benchmark script's stdout (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_the_gpu_check_runs_on_the_cpu_as_a_dry_run() -> None:
    # About 4 minutes on 2 cores (PreAct-ResNet-18 steps on the CPU): opt-in.
    args = ["--device", "cpu", "--n-train", "40", "--n-test", "20", "--epochs", "1"]
    args += ["--skip-tests", "--repeat", "1", "--update-every", "2"]
    table = _run_script("gpu_check.py", args, timeout=900)
    assert "| check | what | result | seconds |" in table
    for check in ("CIFAR-10 binary files", "mixup_genlabel, 1 epochs, bf16", "float32 vs AMP bf16"):
        assert check in table
    assert table.count("mixup_genlabel vs mixup (update_every=2)") == 2  # both memory formats


def test_the_job_profiler_runs_on_an_embedded_set() -> None:
    args = ["iris", "--methods", "vanilla,genlabel_gm", "--top", "3", "--epochs", "3"]
    out = _run_script("profile_job.py", args, timeout=300)
    assert "job iris (logistic, trial 0, 3 epochs)" in out
    assert "genlabel_gm" in out and "vanilla" in out and "cumulative" in out
    out = _run_script("profile_job.py", [*args, "--no-profile"], timeout=300)
    assert "without cProfile" in out and "cumulative" not in out


def test_the_store_comparison_reads_several_stores_and_keeps_only_common_complete_sets(
    tmp_path: Path,
) -> None:
    from genlabel.bench.store import ResultStore

    def cell(dataset: str, method: str, trial: int, acc: float) -> dict:
        return {"dataset": dataset, "method": method, "model": "mlp", "trial": trial,
                "measure": "clean", "alpha": 1.0, "test_accuracy": acc, "params": "{}",
                "seconds": 0.1}  # fmt: skip

    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    # Store a: sets s1, s2 complete; s3 lacks a trial (left out). Store b: s1, s2, s3.
    ResultStore(a).add(
        [cell(ds, m, t, acc) for ds, acc in (("s1", 0.9), ("s2", 0.5)) for m in ("vanilla",
         "genlabel_cv") for t in (0, 1)] + [cell("s3", "vanilla", 0, 0.7)], {"v": "a"},
    )  # fmt: skip
    ResultStore(b).add(
        [cell(ds, "genlabel_cv", t, acc) for ds, acc in (("s1", 0.8), ("s2", 0.6), ("s3", 0.1))
         for t in (0, 1)], {"v": "b"},
    )  # fmt: skip
    out = _run_script(
        "compare_stores.py", [f"x={a}", f"y={b}", "--method", "genlabel_cv@x"], timeout=120
    )
    assert "2 data sets complete in every store; trials [0, 1]" in out
    # Both stores were written here: each names this machine's CPU (recorded per cell).
    from genlabel.bench.store import cpu

    assert f"- x: computed on {cpu()}" in out and f"- y: computed on {cpu()}" in out
    assert "different CPUs" not in out
    # Cells of y from another kind of CPU (each record names the CPU it ran on): named,
    # with the warning. (Written through the store: a cell changed in place fails its
    # checksum and is not read.)
    b = tmp_path / "b-other-cpu.sqlite"
    ResultStore(b).add(
        [cell(ds, "genlabel_cv", t, acc) | {"cpu": "Other (AVX2)"}
         for ds, acc in (("s1", 0.8), ("s2", 0.6), ("s3", 0.1)) for t in (0, 1)], {"v": "b"},
    )  # fmt: skip
    out = _run_script(
        "compare_stores.py", [f"x={a}", f"y={b}", "--method", "genlabel_cv@x"], timeout=120
    )
    assert "- y: computed on Other (AVX2)" in out and "different CPUs" in out
    # Against genlabel_cv@y: s1 +10 points (higher), s2 -10 (lower); mean 0.
    assert "| genlabel_cv@y | 2 | 50 % | 0 % | 50 % | +0.00 |" in out
    assert "| vanilla@x | 2 | 0 % | 100 % | 0 % | +0.00 |" in out
    # --datasets: only the chosen sets (s1: +10 points, higher); an incomplete one is an error.
    args = [f"x={a}", f"y={b}", "--method", "genlabel_cv@x"]
    out = _run_script("compare_stores.py", [*args, "--datasets", "s1"], timeout=120)
    assert "1 data sets complete in every store" in out
    assert "| genlabel_cv@y | 1 | 100 % | 0 % | 0 % | +10.00 |" in out
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare_stores.py"), *args,
         "--datasets", "s1,s3"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "not complete in every store: s3" in result.stderr


def test_the_robustness_table_puts_clean_and_each_attack_side_by_side(tmp_path: Path) -> None:
    import pandas as pd

    from genlabel.bench.store import ResultStore

    # Per (set, method): clean accuracy and the robust accuracy under FGSM and PGD.
    acc = {("s1", "mixup"): (0.9, 0.30, 0.20), ("s1", "genlabel_gm"): (0.8, 0.50, 0.60),
           ("s2", "mixup"): (0.7, 0.40, 0.30), ("s2", "genlabel_gm"): (0.7, 0.40, 0.10)}  # fmt: skip
    cells = [
        {"dataset": d, "method": m, "model": "mlp", "trial": t, "alpha": 1.0,
         "measure": f"robust-{attack}-eps0.1", "test_accuracy": clean,
         "robust_accuracy": value + 0.02 * t, "params": "{}", "seconds": 0.1}
        for (d, m), (clean, fgsm, pgd) in acc.items()
        for attack, value in (("fgsm", fgsm), ("pgd", pgd))
        for t in (0, 1)
    ]  # fmt: skip
    store = tmp_path / "robust.sqlite"
    with ResultStore(store) as s:
        s.add(cells, {"v": 1})
    out = _run_script("robust_table.py", [str(store)], timeout=120)
    assert (
        "| data set | clean: mixup | genlabel_gm | FGSM: mixup | genlabel_gm | PGD: mixup |" in out
    )
    assert "| s1 | **90.0** | 80.0 | 31.0 | **51.0** | 21.0 | **61.0** |" in out
    assert "| s2 | **70.0** | **70.0** | **41.0** | **41.0** | **31.0** | 11.0 |" in out
    assert "| **mean** | **80.0** | 75.0 | 36.0 | **46.0** | 26.0 | **36.0** |" in out
    assert "- FGSM, vs mixup: higher on 1, lower on 0 of 2, +10.0" in out
    assert "- PGD, vs mixup: higher on 1, lower on 1 of 2, +10.0" in out
    assert "PGD leaves at most as many points robust as FGSM on 6 of 8 models" in out
    # The report's results.csv gives the same table.
    csv = tmp_path / "results.csv"
    pd.DataFrame(cells).to_csv(csv, index=False)
    assert _run_script("robust_table.py", [str(csv)], timeout=120) == out
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "robust_table.py"), str(store),
         "--method", "vanilla"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "'vanilla' has no robust cells" in result.stderr


def test_the_cell_comparison_counts_identical_cells_and_sums_the_time(tmp_path: Path) -> None:
    from genlabel.bench.store import ResultStore

    def cell(dataset: str, method: str, trial: int, acc: float, seconds: float) -> dict:
        return {"dataset": dataset, "method": method, "model": "logistic", "trial": trial,
                "measure": "clean", "alpha": 1.0, "test_accuracy": acc, "params": "{}",
                "seconds": seconds}  # fmt: skip

    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    cells = [(ds, m, t) for ds in ("s1", "s2") for m in ("vanilla", "adamixup") for t in (0, 1)]
    ResultStore(a).add([cell(ds, m, t, 0.5, 60.0) for ds, m, t in cells], {"v": "a"})
    # After: one AdaMixup cell of s1 moved by 2 points (its set mean by 1), half the time.
    moved = {("s1", "adamixup", 0): 0.52}
    ResultStore(b).add(
        [cell(ds, m, t, moved.get((ds, m, t), 0.5), 30.0) for ds, m, t in cells], {"v": "b"}
    )
    out = _run_script("same_cells.py", [str(a), str(b)], timeout=120)
    assert "8 cells in both stores" in out
    assert "| adamixup | 4 | 3 | 0.5 | 2.0 | 1 / 2 |" in out
    assert "| vanilla | 4 | 4 | 0.0 | 0.0 | 0 / 2 |" in out
    assert "| all methods | 8.0 | 4.0 |" in out  # compute minutes, before and after
    assert "before not recorded" in out  # stores written without run segments
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "same_cells.py"), str(a), str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "no store at" in result.stderr


def test_the_image_robustness_check_prints_margins_and_each_attack(tmp_path: Path) -> None:
    import json

    import torch

    from genlabel.images.experiment import (
        MODEL_FILE,
        ImageSettings,
        build_image_model,
        load_image_data,
    )

    settings = ImageSettings(dataset="digits")
    train, _ = load_image_data(settings)
    for name, seed in (("a", 0), ("b", 1)):
        (tmp_path / name).mkdir()
        model = build_image_model(settings, train, seed)
        torch.save({"model": model.state_dict(), "seconds": 0.0}, tmp_path / name / MODEL_FILE)
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--dataset", "digits", "--n", "20"]
    args += ["--attacks", "fgsm,pgd@0.05,pgd_strong,pgd_margin", "--steps", "2", "--restarts", "1"]
    out = _run_script("robust_images.py", [*args, "--json", str(tmp_path / "rows.json")], 300)
    assert "|  | a | b |" in out
    for row in ("| margin q10/50/90 |", "| distance > 0.1 |", "| fgsm |", "| pgd@0.05 |"):
        assert row in out
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    for r in rows:  # robust accuracy never exceeds the clean accuracy of the attacked points
        clean = float(r["clean (first 20)"])
        assert all(float(r[a]) <= clean for a in ("fgsm", "pgd@0.05", "pgd_strong", "pgd_margin"))


def test_the_startup_benchmark_times_the_cli_against_import_torch() -> None:
    out = _run_script("startup.py", ["--quick"], timeout=300)
    assert "| command | wall s | CPU s | wall / import torch | CPU / import torch |" in out
    for command in ("import torch", "genlabel --help", "genlabel bench --help"):
        assert f"| `{command}` |" in out
    assert "| `import torch` |" in out and "| 1.00x | 1.00x |" in out
    assert "load average" in out and "genlabel demo" not in out  # --quick: no demo


def test_the_image_table_puts_the_label_variants_side_by_side(tmp_path: Path) -> None:
    """benchmarks/image_table.py: GenLabel rows per store, the difference to the mix each
    relabels paired by trial, the diagnostics, the attacks and the chosen gamma."""
    from genlabel.bench.store import ResultStore

    def cell(method, trial, acc, measure="clean", robust=None, params="{}", third=None):
        return {"dataset": "mnist", "method": method, "model": "cnn", "trial": trial,
                "alpha": 1.0, "measure": measure, "test_accuracy": acc, "ece": 0.01,
                "robust_accuracy": robust, "params": params, "seconds": 1.0,
                "third_class_share": third, "one_hot_share": None, "mixed_weight": None}  # fmt: skip

    stores = {
        "all": [cell("vanilla", t, 0.99) for t in (0, 1)]
        + [cell("mixup", t, 0.98 + 0.01 * t) for t in (0, 1)]
        + [cell("mixup_genlabel", t, 0.96 + 0.01 * t, third=0.3) for t in (0, 1)]
        + [cell("mixup", 0, 0.98, "robust-autoattack-eps0.1", 0.05)],
        "mixed": [cell("mixup_genlabel", t, 0.98 + 0.02 * t, third=0.0) for t in (0, 1)],
        # A tie up to rounding: "0.00", not "-0.00" (which reads as a loss).
        "tie": [cell("mixup_genlabel", t, 0.98 + 0.01 * t - 1e-12 * t) for t in (0, 1)],
        "val": [
            cell("mixup_genlabel", t, 0.98, params=json.dumps({"gamma": g, "gamma_grid": [0, 0.5]}))
            for t, g in ((0, 0.0), (1, 0.5))
        ],
    }
    args = []
    for name, cells in stores.items():
        with ResultStore(tmp_path / f"{name}.sqlite") as s:
            s.add(cells, {"v": name})
        args.append(f"{name}={tmp_path / name}.sqlite")
    out = _run_script("image_table.py", args, timeout=120)
    assert "**mnist** (2 trials per method)" in out
    assert "| mixup | 98.50 ± 0.50 |  | 1.0 ± 0.0 | – | 5.0 |  |" in out  # no empty columns
    assert "| mixup_genlabel · all | 96.50 ± 0.50 | -2.00 ± 0.00 | 1.0 ± 0.0 | 30.0 ± 0.0 |" in out
    assert "| mixup_genlabel · mixed | 99.00 ± 1.00 | 0.50 ± 0.50 |" in out
    assert "| mixup_genlabel · tie | 98.50 ± 0.50 | 0.00 ± 0.00 |" in out
    assert out.rstrip().endswith("| 0, 0.5 |")  # the val rows' chosen gammas, by trial
