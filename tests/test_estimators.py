from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from genlabel.density import make_density
from genlabel.estimators import ESTIMATOR_METHODS, GenerativeClassifier, MixupClassifier
from genlabel.models import init_linear
from genlabel.registry import METHODS, TABULAR_MODELS, dropin_names, resolve_method
from genlabel.training.batched_adam import BatchedAdam
from genlabel.training.grid import TrainSettings, init_generator, train_grid
from genlabel.training.grids import Config
from genlabel.training.selection import fit_configuration, select_hyperparameters
from tests._asserts import rounding_tolerance
from tests.reference_trainer import train_single


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, MixupClassifier):
        # Minibatch training sees a duplicated row twice per epoch, in other batches and
        # with other mixing partners, so weight 2 is not the same model as a repeated row.
        return {"check_sample_weight_equivalence_on_dense_data": "stochastic minibatch training"}
    return {}


@parametrize_with_checks(
    [MixupClassifier(method="genlabel", epochs=3), GenerativeClassifier()],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_contract(estimator, check) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


# Every method with every model the registry says it trains.
CASES = [
    (m, model)
    for model in TABULAR_MODELS
    for m in ESTIMATOR_METHODS
    if model in resolve_method(m).models
]


@pytest.mark.parametrize(("method", "model"), CASES)
def test_every_method_learns_iris(iris, method: str, model: str) -> None:
    Xtr, Xte, ytr, yte = iris
    lr = 0.1 if model == "logistic" else 0.01
    # genlabel_cv searches gamma x density at the test's learning rate (its lr grid is pinned:
    # Adam at lr 0.1 on the ReLU MLP is unstable, so a 0.1 picked by CV can collapse on refit).
    clf = MixupClassifier(
        model=model, method=method, lr=lr, lr_grid=(lr,), epochs=100, random_state=0
    )
    clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.7
    proba = clf.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.decision_function(Xte).shape == (len(Xte), 3)
    if method == "genlabel_cv":
        assert set(clf.best_params_) == {"lr", "gamma", "density"}
        assert len(clf.cv_results_["params"]) == 1 * 6 * 2
        results = clf.cv_results_
        splits = np.stack([results[f"split{f}_test_score"] for f in range(5)])
        np.testing.assert_allclose(results["mean_test_score"], splits.mean(0))
        best = int(np.argmax(results["mean_test_score"]))  # the first of the best on ties
        assert clf.best_params_ == results["params"][best]
        assert results["rank_test_score"][best] == 1
        order = np.argsort(results["rank_test_score"])
        assert np.all(np.diff(results["mean_test_score"][order]) <= 0)


def test_cv_takes_a_splitter_or_its_splits_as_grid_search_cv_does(iris) -> None:
    Xtr, Xte, ytr, _ = iris
    small = dict(method="genlabel_cv", epochs=3, lr_grid=(0.1,), gamma_grid=(0.0, 1.0),
                 random_state=0)  # fmt: skip
    splitter = KFold(3, shuffle=True, random_state=1)
    a = MixupClassifier(cv=splitter, **small).fit(Xtr, ytr)
    b = MixupClassifier(cv=list(splitter.split(Xtr, ytr)), **small).fit(Xtr, ytr)
    assert a.best_params_ == b.best_params_
    assert [f"split{f}_test_score" in a.cv_results_ for f in range(4)] == [True] * 3 + [False]
    for key in ("split0_test_score", "split2_test_score", "mean_test_score"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))
    # None is the default int (5 stratified shuffled folds), as in scikit-learn.
    c = MixupClassifier(cv=None, **small).fit(Xtr, ytr)
    d = MixupClassifier(cv=5, **small).fit(Xtr, ytr)
    np.testing.assert_array_equal(c.predict_proba(Xte), d.predict_proba(Xte))
    n = len(ytr)
    bad = [
        ([(np.arange(n - 10), np.array([], dtype=int))], "test part must be a non-empty"),
        ([(np.arange(n), np.arange(n, n + 3))], "out of range"),
        ([], "no splits"),
    ]
    for cv, message in bad:
        with pytest.raises(ValueError, match=message):
            MixupClassifier(cv=cv, **small).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="'cv' parameter"):
        MixupClassifier(cv="five", **small).fit(Xtr, ytr)


@pytest.mark.parametrize(
    ("grid", "value"),
    [
        ("lr_grid", [float("nan")]),  # used to give NaN probabilities
        ("lr_grid", [-1.0]),  # used to train by gradient ascent
        ("lr_grid", [0.0]),
        ("lr_grid", []),
        ("gamma_grid", [2.0]),
        ("gamma_grid", []),
        ("density_grid", ["x"]),
        ("density_grid", []),
    ],
)
def test_a_grid_no_model_can_train_with_is_an_error_naming_it(iris, grid, value) -> None:
    Xtr, _, ytr, _ = iris
    with pytest.raises(ValueError, match=f"The '{grid}' parameter of MixupClassifier"):
        MixupClassifier(method="genlabel_cv", epochs=2, **{grid: value}).fit(Xtr, ytr)


def test_genlabel_with_gamma_zero_is_exactly_mixup(iris) -> None:
    Xtr, Xte, ytr, _ = iris
    a = MixupClassifier(method="genlabel", gamma=0.0, lr=0.1, random_state=3).fit(Xtr, ytr)
    b = MixupClassifier(method="mixup", lr=0.1, random_state=3).fit(Xtr, ytr)
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
        assert torch.equal(pa, pb)
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))


def test_same_random_state_same_model_and_mlp_has_relu(iris) -> None:
    Xtr, _, ytr, _ = iris
    a = MixupClassifier(model="mlp", epochs=5, random_state=1).fit(Xtr, ytr)
    b = MixupClassifier(model="mlp", epochs=5, random_state=1).fit(Xtr, ytr)
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
        assert torch.equal(pa, pb)
    layers = list(a.module_)
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert layers[0].out_features == 128 and layers[2].out_features == 128


def test_adamixup_learns_its_policy_and_discriminator() -> None:
    X, y = make_classification(200, 5, random_state=0)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    settings = TrainSettings(model="logistic", method="adamixup", epochs=5, seed=0)
    stack = train_grid(X, y, 2, [torch.arange(200)], [Config(0, 0.01)], settings)
    gen = init_generator(0)
    init_linear(5, 2, gen)  # the classifier's draw comes first
    policy_w0, _ = init_linear(10, 64, gen)
    disc_w0, _ = init_linear(5, 64, gen)  # after the policy's two layers
    policy = stack.auxiliary["policy"].weights[0][0].detach()
    assert not torch.allclose(policy, policy_w0), "the policy network did not train"
    assert stack.auxiliary["discriminator"].weights[0][0].shape == disc_w0.shape


# Every tabular training method of the registry (the GenLabel family as one grid, each
# configuration with its own density), with both models where it applies.
GRID_METHODS = ["genlabel"] + [
    m
    for m, spec in METHODS.items()
    if "mlp" in spec.models and not spec.generative and not spec.is_genlabel
]
BATCHED_CASES = [
    (m, model)
    for m in GRID_METHODS
    for model in ("logistic", "mlp")
    if model in METHODS[m if m != "genlabel" else "genlabel_gm"].models
]


@pytest.mark.parametrize(("method", "model"), BATCHED_CASES)
def test_batched_grid_equals_training_each_configuration_alone(method: str, model: str) -> None:
    # float64 so that the comparison is not drowned by float32 rounding amplified by Adam.
    X, y = make_classification(150, 5, n_informative=3, n_classes=3, random_state=0)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    folds = [torch.arange(0, 150, 2), torch.arange(1, 150, 2)[:60]]  # unequal sizes: padding
    configs = [Config(0, 0.01, 0.4, "gm"), Config(1, 0.001, 1.0, "kde"), Config(1, 0.01, 0.0, "gm")]
    settings = TrainSettings(
        model=model, method=method, epochs=8, warmup_epochs=3, batch_size=32, seed=5
    )
    stack = train_grid(X, y, 3, folds, configs, settings)
    for g, config in enumerate(configs):
        layers = train_single(X, y, 3, folds[config.fold], config, settings)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(
                stack.weights[i][g].detach(), layer.weight.T.detach(), rtol=1e-9, atol=1e-10
            )
            torch.testing.assert_close(
                stack.biases[i][g, 0].detach(), layer.bias.detach(), rtol=1e-9, atol=1e-10
            )


@pytest.mark.parametrize(
    ("method", "model"),
    [("genlabel", "logistic"), ("genlabel", "mlp"), ("mixup_exclude_mi", "logistic"),
     ("vanilla", "mlp"), ("manifold_mixup", "mlp"), ("adamixup", "logistic")],
)  # fmt: skip
def test_sample_weights_and_hidden_sizes_in_the_grid_equal_the_reference(method, model) -> None:
    X, y = make_classification(120, 5, n_informative=3, n_classes=3, random_state=1)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    weight = torch.rand(120, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    weight[::7] = 0.0
    folds = [torch.arange(0, 120, 2), torch.arange(1, 120, 2)[:50]]
    configs = [Config(0, 0.01, 0.6, "gm"), Config(1, 0.01, 1.0, "kde")]
    settings = TrainSettings(
        model=model, method=method, epochs=6, warmup_epochs=2, batch_size=16, seed=3,
        hidden=(16, 8, 12),
    )  # fmt: skip
    stack = train_grid(X, y, 3, folds, configs, settings, sample_weight=weight)
    assert stack.loss_curve is not None and stack.loss_curve.shape == (2, 6)
    for g, config in enumerate(configs):
        layers = train_single(X, y, 3, folds[config.fold], config, settings, sample_weight=weight)
        assert len(layers) == len(stack.weights)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(
                stack.weights[i][g].detach(), layer.weight.T.detach(), rtol=1e-9, atol=1e-10
            )


@pytest.mark.parametrize("model", ["logistic", "mlp"])
def test_adamixup_on_wide_data_shares_first_layers_and_still_equals_the_reference(
    model, monkeypatch
) -> None:
    # Wide for this test: the policy, classifier and discriminator first layers are one
    # product per fold (the mixes are mixes of pre-activations); the reference mixes inputs.
    from genlabel.training import grid

    monkeypatch.setattr(grid, "ADAMIXUP_SHARED_MIN_FEATURES", 6)
    shared: list[bool] = []
    original = grid._AdaFirstLayers.of

    def spying(*args):
        out = original(*args)
        shared.append(out is not None)
        return out

    monkeypatch.setattr(grid._AdaFirstLayers, "of", spying)
    X, y = make_classification(100, 8, n_informative=4, n_classes=3, random_state=5)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    weight = torch.rand(100, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    folds = [torch.arange(0, 100, 2), torch.arange(1, 100, 2)[:40]]
    configs = [Config(0, 0.01), Config(1, 0.01), Config(1, 0.1), Config(0, 0.1)]  # interleaved
    settings = TrainSettings(
        model=model, method="adamixup", epochs=4, batch_size=16, seed=1, hidden=(12, 10)
    )
    stack = train_grid(X, y, 3, folds, configs, settings, sample_weight=weight)
    assert shared and all(shared)
    for g, config in enumerate(configs):
        layers = train_single(X, y, 3, folds[config.fold], config, settings, sample_weight=weight)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(
                stack.weights[i][g].detach(), layer.weight.T.detach(), rtol=1e-9, atol=1e-10
            )
    # Unequal folds (three models on one, one on the other) take the plain path.
    shared.clear()
    train_grid(X, y, 3, folds, configs[:3] + [Config(1, 0.001)], settings)
    assert shared and not any(shared)


def test_intrusion_on_wide_data_finds_neighbours_from_the_gram_and_equals_the_reference(
    monkeypatch,
) -> None:
    # Wide for this test: the nearest fold row of a mix comes from the fold's Gram matrix.
    from genlabel.training import grid

    monkeypatch.setattr(grid, "NN_GRAM_MIN_FEATURES", 6)
    used: list[int] = []
    original = grid._Labeler._nearest

    def spying(self, f, batch):
        out = original(self, f, batch)
        used.append(out is not None)
        return out

    monkeypatch.setattr(grid._Labeler, "_nearest", spying)
    X, y = make_classification(100, 8, n_informative=4, n_classes=3, random_state=7)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    folds = [torch.arange(0, 100, 2), torch.arange(1, 100, 2)[:40]]
    configs = [Config(0, 0.01), Config(1, 0.1)]
    for per_sample in (False, True):
        settings = TrainSettings(
            model="logistic", method="mixup_exclude_mi", epochs=4, batch_size=16, seed=2,
            per_sample=per_sample,
        )  # fmt: skip
        used.clear()
        stack = train_grid(X, y, 3, folds, configs, settings)
        assert used and all(used)
        for g, config in enumerate(configs):
            layers = train_single(X, y, 3, folds[config.fold], config, settings)
            torch.testing.assert_close(
                stack.weights[0][g].detach(), layers[0].weight.T.detach(), rtol=1e-9, atol=1e-10
            )
    # Over the memory budget: the direct search.
    monkeypatch.setattr(grid, "MIX_ROWS_MAX_BYTES", 1000)
    used.clear()
    train_grid(X, y, 3, folds, configs, settings)
    assert used and not any(used)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_batched_adam_equals_torch_adam_per_model_with_skipped_steps(dtype) -> None:
    # Each row of the stack: its own lr, and steps it skips (as a fold with no batch left).
    gen = torch.Generator().manual_seed(0)
    lrs = [0.1, 0.01, 0.001]
    start = torch.randn(3, 4, 5, generator=gen, dtype=dtype)
    alone = [start[g].clone().requires_grad_() for g in range(3)]
    opts = [torch.optim.Adam([alone[g]], lr=lrs[g], weight_decay=1e-4) for g in range(3)]
    stacked = start.clone().requires_grad_()
    opt = BatchedAdam([stacked], torch.tensor(lrs, dtype=dtype), weight_decay=1e-4)
    for t in range(40):
        grads = torch.randn(3, 4, 5, generator=gen, dtype=dtype)
        active = torch.tensor([True, t % 3 != 0, t % 5 != 0]) if t % 2 else None
        for g in range(3):
            if active is None or active[g]:
                alone[g].grad = grads[g].clone()
                opts[g].step()
        stacked.grad = grads
        opt.step(active)
    for g in range(3):
        # float32: the per-row step size is a float32 tensor, torch's a Python float.
        torch.testing.assert_close(stacked[g].detach(), alone[g].detach(), rtol=1e-4, atol=1e-4)
    if dtype == torch.float64:  # the same operations in the same order: rounding apart
        # (not bit for bit: a stacked elementwise kernel may vectorise, and so fuse, otherwise
        # than the per-model one on another host)
        for g in range(3):
            torch.testing.assert_close(
                stacked[g].detach(), alone[g].detach(), **rounding_tolerance(dtype, steps=40)
            )


def test_refits_inside_the_cv_stack_equal_a_separate_refit() -> None:
    X, y = make_classification(120, 4, random_state=1)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    settings = TrainSettings(model="logistic", method="genlabel", epochs=4, seed=2)
    grid = [{"lr": 0.01, "gamma": g, "density": "gm"} for g in (0.0, 1.0)]
    best, _, stack = select_hyperparameters(X, y, 2, settings, grid, cv=3, refit=True)
    alone = fit_configuration(X, y, 2, settings, best)
    torch.testing.assert_close(stack.weights[0], alone.weights[0].detach())


def test_pipeline_and_grid_search_round_trip(iris) -> None:
    Xtr, Xte, ytr, yte = iris
    pipe = make_pipeline(StandardScaler(), MixupClassifier(epochs=20, random_state=0))
    search = GridSearchCV(pipe, {"mixupclassifier__lr": [0.1, 0.01]}, cv=3).fit(Xtr, ytr)
    assert search.best_params_["mixupclassifier__lr"] in (0.1, 0.01)
    assert search.score(Xte, yte) > 0.7
    gen = make_pipeline(StandardScaler(), GenerativeClassifier()).fit(Xtr, ytr)
    assert gen.score(Xte, yte) > 0.9


def test_generative_classifier_matches_qda_formula(iris) -> None:
    Xtr, Xte, ytr, _ = iris
    clf = GenerativeClassifier(reg=1e-4).fit(Xtr, ytr)
    from scipy.stats import multivariate_normal

    scores = np.stack(
        [
            np.log(np.mean(ytr == c))
            + multivariate_normal(
                Xtr[ytr == c].mean(0), np.cov(Xtr[ytr == c].T, bias=True) + 1e-4 * np.eye(4)
            ).logpdf(Xte)
            for c in range(3)
        ],
        1,
    )
    np.testing.assert_allclose(clf.decision_function(Xte), scores, rtol=1e-8)
    np.testing.assert_array_equal(clf.predict(Xte), scores.argmax(1))
    with pytest.raises(ValueError, match="'priors' parameter of GenerativeClassifier"):
        GenerativeClassifier(priors=[0.5, 0.5]).fit(Xtr, ytr)


BAD_PARAMS = [
    (
        {"alpha": -1.0},
        r"The 'alpha' parameter of MixupClassifier must be a float in the range \[0(\.0)?, inf\)",
    ),
    ({"method": "cutmix"}, "The 'method' parameter of MixupClassifier must be a str among"),
    ({"model": "resnet"}, "The 'model' parameter of MixupClassifier"),
    ({"gamma": 1.5}, "The 'gamma' parameter of MixupClassifier"),
    ({"epochs": 0}, "The 'epochs' parameter of MixupClassifier"),
    ({"method": "manifold_mixup"}, "needs model='mlp'"),
    ({"method": "qda"}, r"is 'qda' \(generative_gm\), the generative classifier: use "
     "genlabel.estimators.GenerativeClassifier"),
    ({"method": "generative_gm"}, "use genlabel.estimators.GenerativeClassifier"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
def test_bad_parameters_are_reported_in_sklearn_style(iris, params: dict, message: str) -> None:
    Xtr, _, ytr, _ = iris
    with pytest.raises(ValueError, match=message):
        MixupClassifier(**params).fit(Xtr, ytr)


def test_the_valid_method_names_are_listed_sorted(iris) -> None:
    Xtr, _, ytr, _ = iris
    with pytest.raises(ValueError, match="must be a str among") as info:
        MixupClassifier(method="nope").fit(Xtr, ytr)
    listed = str(info.value).split("{")[1].split("}")[0].replace("'", "").split(", ")
    assert listed == sorted(listed) and "mixup" in listed and "qda" not in listed


def test_predict_before_fit_and_bad_inputs(iris) -> None:
    Xtr, _, ytr, _ = iris
    with pytest.raises(NotFittedError):
        MixupClassifier().predict(Xtr)
    with pytest.raises(ValueError, match="1 class"):
        MixupClassifier(epochs=1).fit(Xtr, np.zeros(len(Xtr)))
    bad = Xtr.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MixupClassifier(epochs=1).fit(bad, ytr)


def test_hidden_layer_sizes_and_the_loss_curve(iris) -> None:
    Xtr, _, ytr, _ = iris
    clf = MixupClassifier(model="mlp", hidden_layer_sizes=(32, 16, 8), epochs=15, random_state=0)
    clf.fit(Xtr, ytr)
    widths = [m.out_features for m in clf.module_ if isinstance(m, torch.nn.Linear)]
    assert widths == [32, 16, 8, 3]
    assert len(clf.loss_curve_) == 15 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="'hidden_layer_sizes' parameter"):
        MixupClassifier(model="mlp", hidden_layer_sizes=(0,)).fit(Xtr, ytr)


def test_the_estimator_speaks_the_clis_method_names(iris) -> None:
    Xtr, Xte, ytr, _ = iris
    a = MixupClassifier(method="genlabel_kde", gamma=0.5, epochs=5, random_state=1).fit(Xtr, ytr)
    b = MixupClassifier(method="genlabel", density="kde", gamma=0.5, epochs=5, random_state=1)
    b.fit(Xtr, ytr)
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))
    c = MixupClassifier(method="linear", epochs=5, random_state=1).fit(Xtr, ytr)  # alias of mixup
    d = MixupClassifier(method="mixup", epochs=5, random_state=1).fit(Xtr, ytr)
    np.testing.assert_array_equal(c.predict_proba(Xte), d.predict_proba(Xte))


def test_sample_weights(iris) -> None:
    Xtr, Xte, ytr, yte = iris
    base = dict(method="mixup", lr=0.1, epochs=30, random_state=0)
    plain = MixupClassifier(**base).fit(Xtr, ytr)
    ones = MixupClassifier(**base).fit(Xtr, ytr, sample_weight=np.ones(len(ytr)))
    np.testing.assert_array_equal(plain.predict_proba(Xte), ones.predict_proba(Xte))
    # Corrupt a third of the labels but give those rows weight 0: the model learns the rest.
    noisy, weight = ytr.copy(), np.ones(len(ytr))
    noisy[::3] = (noisy[::3] + 1) % 3
    weight[::3] = 0.0
    clean = MixupClassifier(**base).fit(Xtr, noisy, sample_weight=weight)
    assert clean.score(Xte, yte) > 0.85
    with pytest.raises(ValueError, match="sample_weight"):
        MixupClassifier(**base).fit(Xtr, ytr, sample_weight=np.ones(3))


def test_your_own_module(iris) -> None:
    Xtr, Xte, ytr, yte = iris

    def net(n_features: int, n_classes: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, 24), torch.nn.Tanh(), torch.nn.Linear(24, n_classes)
        )

    for method in ("mixup", "genlabel_gm"):
        clf = MixupClassifier(module=net, method=method, lr=0.02, epochs=60, random_state=0)
        clf.fit(Xtr, ytr)
        assert clf.score(Xte, yte) > 0.85 and len(clf.loss_curve_) == 60
        assert isinstance(clf.module_[1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="needs the built-in models") as info:
        MixupClassifier(module=net, method="genlabel_cv").fit(Xtr, ytr)
    # The methods a module can train are the registry's drop-in methods.
    assert str(info.value).endswith(", ".join(dropin_names(models=TABULAR_MODELS)))


def test_configuration_footguns_are_errors(iris, capsys) -> None:
    Xtr, _, ytr, _ = iris
    with pytest.raises(ValueError, match="epochs must exceed warmup_epochs.*latent='two_model'"):
        MixupClassifier(model="mlp", method="genlabel", epochs=20, latent="reference").fit(Xtr, ytr)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cannot use CUDA"):
            MixupClassifier(device="cuda").fit(Xtr, ytr)
    MixupClassifier(epochs=2, verbose=1).fit(Xtr, ytr)
    assert "training" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("model", "latent", "class_prior"),
    [("mlp", "two_model", False), ("mlp", "two_model", True), ("mlp", "input", True),
     ("mlp", "reference", True), ("logistic", None, True)],
)  # fmt: skip
def test_algorithm_2_variants_and_class_priors_equal_the_reference(model, latent, class_prior):
    X, y = make_classification(150, 5, n_informative=3, n_classes=3, weights=[0.6, 0.3, 0.1],
                               random_state=0)  # fmt: skip
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    folds = [torch.arange(0, 150, 2), torch.arange(1, 150, 2)[:60]]
    configs = [Config(0, 0.01, 0.4, "gm"), Config(1, 0.001, 1.0, "kde"), Config(1, 0.01, 0.0, "gm")]
    settings = TrainSettings(
        model=model, method="genlabel", epochs=6, warmup_epochs=2, batch_size=32, seed=5,
        latent=latent, class_prior=class_prior,
    )  # fmt: skip
    stack = train_grid(X, y, 3, folds, configs, settings)
    for g, config in enumerate(configs):
        layers = train_single(X, y, 3, folds[config.fold], config, settings)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(
                stack.weights[i][g].detach(), layer.weight.T.detach(), rtol=1e-9, atol=1e-10
            )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_two_model_genlabel_with_gamma_zero_is_exactly_mixup(dtype) -> None:
    X, y = make_classification(120, 6, n_informative=4, n_classes=3, random_state=2)
    X, y = torch.tensor(X, dtype=dtype), torch.tensor(y)
    folds = [torch.arange(0, 120, 2), torch.arange(120)]
    base = dict(model="mlp", epochs=5, batch_size=32, seed=1)
    gen = train_grid(
        X, y, 3, folds, [Config(0, 0.01, 0.0, "gm"), Config(1, 0.01, 0.0, "kde")],
        TrainSettings(method="genlabel", latent="two_model", **base),
    )  # fmt: skip
    mix = train_grid(
        X, y, 3, folds, [Config(0, 0.01), Config(1, 0.01)], TrainSettings(method="mixup", **base)
    )
    for a, b in zip(gen.weights + gen.biases, mix.weights + mix.biases, strict=True):
        assert torch.equal(a, b)


def test_the_latent_option_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown latent 'deep'"):
        TrainSettings(model="mlp", latent="deep")
    with pytest.raises(ValueError, match="the logistic model has no hidden layer"):
        TrainSettings(model="logistic", latent="two_model")


def test_latent_and_class_prior_in_the_estimator(iris) -> None:
    Xtr, Xte, ytr, yte = iris
    for latent in ("two_model", "input"):
        clf = MixupClassifier(model="mlp", method="genlabel_gm", latent=latent, class_prior=True,
                              gamma=0.5, epochs=20, random_state=0)  # fmt: skip
        assert clf.fit(Xtr, ytr).score(Xte, yte) > 0.8  # no warm-up: 20 epochs are fine
    with pytest.raises(ValueError, match="'latent' parameter of MixupClassifier"):
        MixupClassifier(model="logistic", latent="two_model").fit(Xtr, ytr)
    with pytest.raises(
        ValueError, match="'latent' parameter of MixupClassifier must be a str among"
    ):
        MixupClassifier(model="mlp", latent="deep").fit(Xtr, ytr)


@pytest.mark.parametrize("class_prior", [False, True])
def test_wide_data_labels_mixes_from_the_rows_and_still_equals_the_reference(
    class_prior, monkeypatch
) -> None:
    # 20 features, wide for this test: the grid labels its mixes from the densities' parts
    # at the fold rows (mix_rows); the reference labels the mixed points themselves.
    from genlabel.models import stacked
    from genlabel.training import grid

    monkeypatch.setattr(grid, "MIX_ROWS_MIN_FEATURES", {"gm": 16, "kde": 20})
    monkeypatch.setattr(stacked, "SHARED_MIN_ELEMENTS", 0)
    X, y = make_classification(120, 20, n_informative=6, n_classes=3, random_state=2)
    X, y = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    weight = torch.rand(120, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    folds = [torch.arange(0, 120, 2), torch.arange(1, 120, 2)[:50]]
    # Two models per fold, interleaved: the grouped first layer of forward_shared.
    configs = [Config(0, 0.01, 0.6, "gm"), Config(1, 0.01, 1.0, "kde"), Config(1, 0.1, 0.3, "gm"),
               Config(0, 0.1, 0.0, "kde")]  # fmt: skip
    settings = TrainSettings(
        model="logistic", method="genlabel", epochs=5, batch_size=16, seed=4,
        class_prior=class_prior,
    )  # fmt: skip
    assert X.shape[1] >= max(grid.MIX_ROWS_MIN_FEATURES.values())
    stack = train_grid(X, y, 3, folds, configs, settings, sample_weight=weight)
    for g, config in enumerate(configs):
        layers = train_single(X, y, 3, folds[config.fold], config, settings, sample_weight=weight)
        torch.testing.assert_close(
            stack.weights[0][g].detach(), layers[0].weight.T.detach(), rtol=1e-9, atol=1e-10
        )


def test_the_mix_rows_path_is_taken_only_for_wide_data_within_its_memory(monkeypatch) -> None:
    from genlabel.training import grid

    calls: list[str] = []
    original = grid._Labeler._targets_of_mixes

    def counting(self, f, kind, batch):
        calls.append(kind)
        return original(self, f, kind, batch)

    monkeypatch.setattr(grid._Labeler, "_targets_of_mixes", counting)
    monkeypatch.setattr(grid, "MIX_ROWS_MIN_FEATURES", {"gm": 10, "kde": 20})
    settings = TrainSettings(model="logistic", method="genlabel_cv", epochs=1, batch_size=32)
    configs = [Config(0, 0.01, 0.5, "kde"), Config(0, 0.01, 0.5, "gm")]
    X20, y20 = make_classification(80, 20, n_informative=3, n_redundant=0, random_state=0)
    gm_bytes = 80 * 8 * make_density("gm").fit(X20, y20).mix_row_elements()
    for d, budget, used in [
        (20, grid.MIX_ROWS_MAX_BYTES, {"gm", "kde"}),
        (12, grid.MIX_ROWS_MAX_BYTES, {"gm"}),  # wide enough for the Gaussian only
        (5, grid.MIX_ROWS_MAX_BYTES, set()),
        (20, gm_bytes + 1000, {"gm"}),  # the Gaussian's parts first; the KDE's do not fit
        (20, 1000, set()),
    ]:
        monkeypatch.setattr(grid, "MIX_ROWS_MAX_BYTES", budget)
        X, y = make_classification(80, d, n_informative=3, n_redundant=0, random_state=0)
        X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
        calls.clear()
        stack = train_grid(X, y, 2, [torch.arange(80)], configs, settings)
        assert set(calls) == used, (d, budget)
        assert torch.isfinite(stack.weights[0]).all()


@pytest.mark.parametrize("sizes", [[7, 3], [7, 5, 4, 3]])
# interleaved (reordered), fold-major (no reordering), unequal (the gather)
@pytest.mark.parametrize("group_of", [[1, 0, 2, 0, 2, 1], [0, 0, 1, 1, 2, 2], [0, 0, 1]])
def test_forward_shared_equals_the_forward_of_the_gathered_inputs(
    sizes, group_of, monkeypatch
) -> None:
    from genlabel.models import StackedMLP, stacked

    monkeypatch.setattr(stacked, "SHARED_MIN_ELEMENTS", 0)  # group even this small stack

    g = torch.Generator().manual_seed(0)
    stack = StackedMLP(sizes, len(group_of), g, torch.device("cpu"), torch.float64)
    for w in stack.weights:  # distinct models
        w.data += torch.randn(w.shape, generator=g, dtype=torch.float64)
    group = torch.tensor(group_of)
    x = torch.randn(int(group.max()) + 1, 9, sizes[0], generator=g, dtype=torch.float64)
    got = stack.forward_shared(x, group)
    torch.testing.assert_close(got, stack.forward(x[group]), rtol=1e-12, atol=1e-12)
    got.square().sum().backward()  # differentiable in the stacked weights
    assert stack.weights[0].grad is not None


@pytest.mark.parametrize("shared", [True, False])  # the grouped first layer, the gather
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_shared_of_a_range_is_that_range_of_the_whole_forward(
    shared, dtype, monkeypatch
) -> None:
    from genlabel.models import StackedMLP, stacked

    monkeypatch.setattr(stacked, "SHARED_MIN_ELEMENTS", 0 if shared else 10**9)
    g = torch.Generator().manual_seed(3)
    stack = StackedMLP([40, 16, 16, 3], 9, g, torch.device("cpu"), dtype)
    for w in stack.weights:  # distinct models
        w.data += torch.randn(w.shape, generator=g, dtype=dtype)
    group = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])  # fold-major, as the grids
    x = torch.randn(3, 11, 40, generator=g, dtype=dtype)
    whole = stack.forward_shared(x, group)
    for models in (slice(6, 9), slice(3, 9), slice(0, 3)):
        got = stack.forward_shared(x, group, models)
        # The same products up to rounding: a slice of the stack is a batch of other shapes,
        # which a BLAS may block otherwise (bit-equal on some hosts, not on others).
        tol = rounding_tolerance(dtype, scale=float(whole.abs().max()))
        torch.testing.assert_close(got, whole[models].detach(), **tol)
        got.square().sum().backward()
        grad = stack.weights[0].grad
        outside = torch.ones(9, dtype=torch.bool)
        outside[models] = False
        assert grad is not None and not grad[outside].any() and grad[models].any()
        stack.weights[0].grad = None
    with pytest.raises(ValueError, match="whole groups"):
        stack.forward_shared(x, group, slice(4, 9))


@pytest.mark.parametrize(
    ("model", "method", "latent"),
    [("mlp", "genlabel", "two_model"), ("mlp", "genlabel", "input"), ("mlp", "vanilla", None),
     ("logistic", "mixup", None), ("logistic", "genlabel", None)],
)  # fmt: skip
@pytest.mark.parametrize("layout", ["equal folds", "unequal folds, grouped, weighted"])
def test_steps_that_train_only_the_refit_models_change_no_weight(
    model, method, latent, layout, monkeypatch
) -> None:
    # The refit stream has more steps per epoch than the CV folds; in those steps only the
    # models with rows left are computed. Float32 (the suites' dtype), one thread (the
    # suites' jobs), compared with the grid that computes every model always, to rounding:
    # the range's products have other shapes than the whole stack's, which a BLAS may block
    # otherwise (bit-equal on some hosts, not on others; benchmarks/same_cells.py is what
    # checks cell identity). A step that trained the wrong models would move weights by
    # about the learning rate, far beyond this tolerance.
    from genlabel.models import stacked
    from genlabel.training import grid

    X, y = make_classification(200, 12, n_informative=5, n_classes=3, random_state=1)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    weight, prior = None, False
    if layout == "equal folds":  # the refit alone: models 16 to 24 (phi's: 4 to 6)
        folds = [torch.arange(0, 200, 2), torch.arange(1, 200, 2), torch.arange(200)]
        expected = {(16, 24), (4, 6)}
    else:  # fold 0 ends first (2 steps), then fold 1 (3), then the refit (7)
        folds = [torch.arange(0, 120, 2), torch.arange(1, 181, 2), torch.arange(200)]
        expected = {(8, 24), (16, 24), (2, 6), (4, 6)}
        monkeypatch.setattr(stacked, "SHARED_MIN_ELEMENTS", 0)  # the grouped first layer
        weight = torch.rand(200, generator=torch.Generator().manual_seed(0))
        prior = method == "genlabel"
    configs = [Config(f, lr, gamma, kind) for f in range(3) for lr in (0.1, 0.01)
               for gamma in (0.0, 0.5) for kind in ("gm", "kde")]  # fmt: skip
    settings = TrainSettings(
        model=model, method=method, latent=latent, epochs=3, batch_size=32, seed=2,
        class_prior=prior,
    )  # fmt: skip
    ranges: list[tuple[int, int]] = []
    original = grid._training_range

    def recording(active):
        part = original(active)
        if part is not None:
            ranges.append((part.start, part.stop))
        return part

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        monkeypatch.setattr(grid, "_training_range", recording)
        fast = train_grid(X, y, 3, folds, configs, settings, sample_weight=weight)
        monkeypatch.setattr(grid, "_training_range", lambda active: None)
        full = train_grid(X, y, 3, folds, configs, settings, sample_weight=weight)
    finally:
        torch.set_num_threads(threads)
    assert set(ranges) <= expected and (16, 24) in ranges
    assert layout == "equal folds" or (8, 24) in ranges  # folds 1 and 2 together
    steps = 3 * 7  # epochs x the refit stream's steps per epoch
    for a, b in zip(fast.weights + fast.biases, full.weights + full.biases, strict=True):
        tol = rounding_tolerance(a.dtype, steps=steps, scale=float(b.abs().max()))
        torch.testing.assert_close(a.detach(), b.detach(), **tol)
    torch.testing.assert_close(
        fast.loss_curve, full.loss_curve, **rounding_tolerance(torch.float32, steps=steps)
    )


def test_the_training_range_is_the_active_models_when_contiguous() -> None:
    from genlabel.training.grid import _training_range

    def rng(*flags):
        return _training_range(torch.tensor(flags, dtype=torch.bool))

    assert rng(1, 1, 1) is None  # all train: the whole stack
    assert rng(0, 0, 1, 1) == slice(2, 4)
    assert rng(1, 1, 0, 0) == slice(0, 2)
    assert rng(0, 1, 1, 0) == slice(1, 3)
    assert rng(1, 0, 1) is None  # scattered (not fold-major): the whole stack
    assert rng(0, 0, 0) is None


def test_fit_on_X_times_1e200_raises_like_sklearns_mlp_not_nan_weights() -> None:
    """`MixupClassifier().fit(X * 1e200)` returned with NaN weights and predicted class 0
    everywhere; it now raises scikit-learn's MLP's ValueError, for the default method, a
    GenLabel method and a user's module."""
    X, y = load_iris(return_X_y=True)
    message = "Solver produced non-finite parameter weights. The input data may contain large"
    for params in ({}, {"method": "genlabel"}, {"module": lambda d, k: torch.nn.Linear(d, k)}):
        with pytest.raises(ValueError, match=message):
            MixupClassifier(epochs=2, random_state=0, **params).fit(X * 1e200, y)


def test_training_that_diverges_to_non_finite_weights_raises_like_sklearns_mlp() -> None:
    """Inputs within float32 whose training overflows (a huge learning rate on 1e36-sized
    inputs): the weights are checked after training."""
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="^Solver produced non-finite parameter weights"):
        MixupClassifier(method="vanilla", lr=1e3, epochs=3, random_state=0).fit(X * 1e36, y)
    net = lambda d, k: torch.nn.Linear(d, k)  # noqa: E731
    with pytest.raises(ValueError, match="^Solver produced non-finite parameter weights"):
        MixupClassifier(module=net, method="vanilla", lr=1e3, epochs=3).fit(X * 1e36, y)
    # The same data scaled sensibly trains.
    assert MixupClassifier(method="vanilla", epochs=3, random_state=0).fit(X, y).score(X, y) > 0


@pytest.mark.parametrize(
    ("model", "latent"), [("logistic", None), ("mlp", "two_model"), ("mlp", "reference")]
)
def test_label_classes_mixed_reaches_every_grid_labeler(monkeypatch, model, latent) -> None:
    """Issue 42: label_classes="mixed" in the estimator restricts GenLabel's labels to
    each pair's two classes in the one-phase grid and both latent variants."""
    import genlabel.labels.mixed as mixed_module

    seen = []
    original = mixed_module.density_targets

    def spy(*args, allowed=None, **kwargs):
        out = original(*args, allowed=allowed, **kwargs)
        seen.append((out, allowed))
        return out

    # Every grid labeler labels through label_mixed.
    monkeypatch.setattr(mixed_module, "density_targets", spy)
    X, y = make_classification(120, 4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)  # fmt: skip
    clf = MixupClassifier(
        model=model, method="genlabel_gm", label_classes="mixed", epochs=3, warmup_epochs=1,
        latent=latent, random_state=0, hidden_layer_sizes=(8,),
    ).fit(X, y)  # fmt: skip
    assert clf.predict(X).shape == (120,)
    assert seen and all(a is not None for _, a in seen)
    for out, allowed in seen:
        assert float(out[~allowed].sum()) == 0.0
    with pytest.raises(ValueError, match="label_classes"):
        MixupClassifier(method="genlabel_gm", label_classes="two").fit(X, y)


@pytest.mark.parametrize("kind", ["gm", "kde"])
@pytest.mark.parametrize("options", [{}, {"class_prior": True, "label_classes": "mixed"}])
def test_the_grids_mix_rows_fast_path_equals_the_dispatcher(monkeypatch, kind, options) -> None:
    """Issue 39: the grid's one fast path past label_mixed (GenLabel labels from the
    densities' parts at the fold rows) gives label_mixed's labels of the mixed points."""
    from genlabel.labels import label_mixed
    from genlabel.training import grid

    monkeypatch.setattr(grid, "MIX_ROWS_MIN_FEATURES", {"gm": 4, "kde": 4})
    X, y = make_classification(60, 5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=1)  # fmt: skip
    X, y = torch.tensor(X), torch.tensor(y)
    settings = TrainSettings(method="genlabel_cv", batch_size=16, per_sample=True, **options)
    configs = [Config(0, 0.01, 0.5, kind), Config(1, 0.01, 0.5, kind)]
    folds = [torch.arange(0, 60, 2), torch.arange(1, 60, 2)[:25]]
    run = grid._build_run(X, y, 3, folds=folds, configs=configs, settings=settings,
                          streams=[0, 1], sample_weight=None)  # fmt: skip
    labeler = grid._Labeler(run, configs)
    assert set(labeler.parts) == {(0, kind), (1, kind)}
    batches, _ = run.step(run.orders(), 0, True)
    for f, batch in enumerate(batches):
        fast = labeler._targets_of_mixes(f, kind, batch)
        dispatched = label_mixed(
            "genlabel", batch.params, batch.y, 3, points=batch.x,
            density=labeler.densities[(f, kind)], log_prior=run.folds[f].log_prior,
            dtype=X.dtype, label_classes=settings.label_classes,
        )  # fmt: skip
        torch.testing.assert_close(fast, dispatched.targets, **rounding_tolerance(X.dtype))


def test_adamixup_draws_the_same_in_the_grid_and_the_image_step() -> None:
    """Issue 39: AdaMixup's draws (pairing, then uniforms) and its policy lam = a + u d are
    one function each, which the grid and AdaMixupStep call."""
    from genlabel.training import grid
    from genlabel.training.steps import adamixup_draw, adamixup_lam

    X, y = torch.randn(20, 3, dtype=torch.float64), torch.arange(20) % 2
    settings = TrainSettings(method="adamixup", batch_size=8)
    run = grid._build_run(X, y, 2, folds=[torch.arange(20)], configs=[Config(0, 0.01)],
                          settings=settings, streams=[3], sample_weight=None)  # fmt: skip
    (batch,), _ = run.step(run.orders(), 0, True)
    alone = grid.fold_generator(0, 3)
    torch.randperm(20, generator=alone)  # the epoch's batch order comes first
    perm, u = adamixup_draw(8, alone)
    torch.testing.assert_close(batch.params.perm, perm, rtol=0, atol=0)
    torch.testing.assert_close(batch.u, u, rtol=0, atol=0)
    shares = torch.softmax(torch.randn(8, 3, dtype=torch.float64), -1)
    lam = adamixup_lam(shares, u)
    torch.testing.assert_close(lam, shares[:, 0] + u * shares[:, 1], rtol=0, atol=0)
    assert bool(((lam >= shares[:, 0]) & (lam <= shares[:, 0] + shares[:, 1])).all())


def test_method_spec_properties_follow_the_method_table() -> None:
    """Issue 39: code reads a method's behaviour from MethodSpec's properties, which the
    table's mix and rule columns define."""
    for spec in METHODS.values():
        assert spec.mixes == (spec.mix not in ("none", "generative")), spec.name
        assert spec.mixes_inputs == (spec.mix == "input"), spec.name
        assert spec.mixes_layers == (spec.mix == "manifold"), spec.name
        assert spec.adaptive == (spec.mix == "adaptive"), spec.name
        assert spec.cuts == (spec.mix == "cutmix"), spec.name
        assert spec.generative == (spec.mix == "generative"), spec.name
        assert spec.draws_alpha == (spec.mix in ("input", "manifold", "cutmix")), spec.name
        assert spec.relabels == (spec.rule != "linear"), spec.name
        # Exactly one kind of mix, or none.
        kinds = [spec.mixes_inputs, spec.mixes_layers, spec.adaptive, spec.cuts]
        assert sum(kinds) == int(spec.mixes), spec.name
    names = {name for name, spec in METHODS.items() if spec.mixes_layers}
    assert names == {"manifold_mixup", "manifold_genlabel"}
    assert {name for name, spec in METHODS.items() if not spec.mixes} == {
        "vanilla",
        "generative_gm",
    }
    assert {name for name, spec in METHODS.items() if spec.cuts} == {"cutmix", "cutmix_genlabel"}
    assert [name for name, spec in METHODS.items() if spec.adaptive] == ["adamixup"]
    assert {n for n, s in METHODS.items() if s.relabels and not s.is_genlabel} == {
        "mixup_exclude_mi", "mixup_logistic", "mixup_nn"
    }  # fmt: skip
