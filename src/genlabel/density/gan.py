"""Class densities from a conditional generator, by GAN inversion (GenMix's GAN case).

The generator's class-c outputs {G(z, c)} form a manifold M_c; a point's class-c density
falls off with its distance to it, p_c(x) ∝ exp(-d(x, M_c)^2 / (2 sigma^2)), where
d(x, M_c) = min_z ||x - G(z, c)|| is found by gradient descent over z (GAN inversion).
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import torch

from .._repr import ParamsRepr
from .._validation import (
    as_float_tensor,
    is_int_at_least,
    is_integer,
    is_real_in,
    parameter_error,
)
from .targets import genlabel_targets

__all__ = ["ConditionalGenerator", "GANClassDensity"]

# Generator evaluations per inversion chunk: restarts x points x classes rows, bounded so
# that a chunk's outputs stay near 2^22 values (16 MiB in float32) whatever the data size.
_CHUNK_VALUES = 1 << 22
_MAX_CHUNK_ROWS = 1 << 15
# Fixed latent codes the restarts are chosen from (per restart): the best of them for a
# point and class are the starting codes, a cheap global search before the local one.
_POOL_PER_RESTART = 32


@runtime_checkable
class ConditionalGenerator(Protocol):
    """What :class:`GANClassDensity` needs of a generator: ``ConditionalGAN`` or any object
    with ``latent_dim``, ``num_classes`` and ``generate(z, c)``, differentiable in z
    (z of shape (n, latent_dim), c of shape (n,), int64; output (n, *point_shape)). An
    optional ``dtype`` attribute sets the dtype of z (default float32)."""

    latent_dim: int
    num_classes: int

    def generate(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """G(z, c), differentiable in z.

        Parameters
        ----------
        z : Tensor of shape (n, latent_dim)
        c : Tensor of shape (n,), int64
            The classes.

        Returns
        -------
        Tensor of shape (n, *point_shape)
        """
        ...


class _Inversion:
    """Latent codes z of shape (R, m, q, L): R restarts for each of m points and q classes.

    Adam refines all of them at once on sum ||x - G(z, c)||^2 (each code's loss involves
    only its own point and class, so one Adam over the stack is R*m*q independent ones);
    the step size follows one cosine decay over ``total`` steps, so a search may be advanced
    in several calls while its point moves (find_ratio_points) and still end precise.
    """

    def __init__(self, density: GANClassDensity, classes: torch.Tensor, z0: torch.Tensor):
        self.density = density
        self.shape = z0.shape
        self.z = z0.clone().requires_grad_(True)
        self.classes = classes.expand(z0.shape[:3]).reshape(-1)
        self.optimizer = torch.optim.Adam([self.z], lr=density.lr)
        self.done = 0

    def images(self) -> torch.Tensor:
        R, m, q, L = self.shape
        out = self.density.gan.generate(self.z.reshape(-1, L), self.classes)
        return out.reshape(R, m, q, -1)

    def run(self, x: torch.Tensor, n_steps: int) -> None:
        target = x.detach()[None, :, None, :]
        total = self.density.steps
        for _ in range(n_steps):
            scale = 0.5 * (1.0 + math.cos(math.pi * min(self.done, total) / total))
            self.optimizer.param_groups[0]["lr"] = self.density.lr * scale
            loss = (self.images() - target).square().sum()
            # Gradient for z only: the generator's own parameters collect nothing.
            (self.z.grad,) = torch.autograd.grad(loss, self.z)
            self.optimizer.step()
            self.done += 1
            if self.density.latent_radius is not None:
                with torch.no_grad():
                    self.z.copy_(_into_ball(self.z, self.density.latent_radius))

    @torch.no_grad()
    def closest(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared distances (m, q) from the best restart, and its generated points (m, q, D)."""
        images = self.images()
        d2 = (images - x[None, :, None, :]).square().sum(-1)
        best = d2.argmin(0, keepdim=True)
        nearest = images.gather(0, best[..., None].expand(1, *images.shape[1:]))[0]
        return d2.gather(0, best)[0], nearest


def _into_ball(z: torch.Tensor, radius: float) -> torch.Tensor:
    """Codes (..., L) projected onto the ball ||z|| <= radius (the nearest point of it)."""
    norm = z.norm(dim=-1, keepdim=True)
    return z * (radius / norm.clamp_min(1e-30)).clamp(max=1.0)


class GANClassDensity(ParamsRepr):
    """p_c(x) ∝ exp(-d(x, M_c)^2 / (2 sigma^2)), M_c the class-c outputs of a generator.

    d(x, M_c) = min_z ||x - G(z, c)|| by GAN inversion: for every point and class at once,
    ``restarts`` latent codes (the nearest, for that point and class, of a fixed pool of
    32 * restarts codes: z = 0 and N(0, I) draws from ``seed``) are refined by Adam for
    ``steps`` steps with a cosine-decaying step size from ``lr``, and the best is kept. The
    pool is fixed, so ``log_prob`` is a deterministic function of each point, whatever the
    batch it comes in.

    A :class:`~genlabel.density.LabelDensity`: ``log_prob`` and ``targets`` as the Gaussian
    and KDE densities, so GenLabel can relabel with it too.

    Parameters
    ----------
    gan : ConditionalGAN or ConditionalGenerator
        Fitted; anything with ``latent_dim``, ``num_classes`` and ``generate(z, c)``.
    sigma : float
        Length scale of the density, in the data's units: the spread of the data around its
        class manifolds. Labels are softmax_c(-d_c^2 / (2 sigma^2)), so a small sigma makes
        them nearly one-hot a short way from the boundary. A fair value is the root mean
        square distance of training points to their own class's manifold,
        ``density.distance(X).gather(1, y[:, None]).square().mean().sqrt()``.
    restarts : int, default=8
        Latent starting codes per point and class. GAN inversion is non-convex; a handful
        of starts chosen from a pool finds the global minimum of low-dimensional latent
        spaces reliably at little cost.
    steps : int, default=200
        Adam steps per inversion. With the cosine decay and ``lr=0.1`` they bring the
        distance to an affine manifold (5-D data, 2-D latent, points of norm ~4) within
        1e-6 of its exact value; 100 steps leave ~4e-4, ``lr=0.05`` ~1e-3. Each step costs
        restarts x points x classes generator evaluations (forward and backward).
    lr : float, default=0.1
        Adam's initial step size in latent units (z ~ N(0, I)).
    ratio_steps : int, default=20
        Gauss-Newton steps on x in :meth:`find_ratio_points`, each after ``steps /
        ratio_steps`` inversion steps warm-started from the previous ones.
    latent_radius : float, optional
        Restrict the manifolds to codes of norm at most this, M_c = {G(z, c) : ||z|| <= r}:
        the pool and every Adam step are projected onto the ball. None (default) searches
        all of the latent space. A generator is only trained on z ~ N(0, I); far outside
        that, and even in a low-probability hole of it (near z = 0 when the latent space
        has more dimensions than the data), it may draw points anywhere, e.g. a ring's
        generator inside the disk it surrounds, which makes every point close to every
        class. A quantile of the latent norm, ``sqrt(scipy.stats.chi2.ppf(0.99,
        latent_dim))``, keeps the codes the generator was trained on.
    seed : int, default=0
        Seeds the pool of starting codes.

    Attributes
    ----------
    classes_ : Tensor of shape (num_classes,)
        0..num_classes-1, the columns of ``log_prob``.
    """

    # A keyword-only signature, alike in shape only to others (e.g. ConditionalGAN.fit's).
    def __init__(
        self,
        gan: Any,
        sigma: float,
        *,
        restarts: int = 8,
        steps: int = 200,
        lr: float = 0.1,
        ratio_steps: int = 20,
        latent_radius: float | None = None,
        seed: int = 0,
    ):
        name = type(self).__name__
        if not isinstance(gan, ConditionalGenerator):
            raise ValueError(
                "gan must be a conditional generator with latent_dim, num_classes and "
                f"generate(z, c) (a fitted ConditionalGAN); got {type(gan).__name__}"
            )
        if not is_real_in(sigma, 0, low_open=True):
            raise parameter_error(name, "sigma", "a float in the range (0, inf)", sigma)
        if not is_real_in(lr, 0, low_open=True):
            raise parameter_error(name, "lr", "a float in the range (0, inf)", lr)
        for param, value in (
            ("restarts", restarts),
            ("steps", steps),
            ("ratio_steps", ratio_steps),
        ):
            if not is_int_at_least(value, 1):
                raise parameter_error(name, param, "an integer >= 1", value)
        if not is_integer(seed):
            raise parameter_error(name, "seed", "an integer", seed)
        if latent_radius is not None and not is_real_in(latent_radius, 0, low_open=True):
            raise parameter_error(
                name, "latent_radius", "None or a float in the range (0, inf)", latent_radius
            )
        self.gan, self.sigma, self.restarts, self.steps = gan, float(sigma), restarts, steps
        self.lr, self.ratio_steps, self.seed = float(lr), ratio_steps, seed
        self.latent_radius = None if latent_radius is None else float(latent_radius)
        self.classes_ = torch.arange(int(gan.num_classes))
        pool = torch.randn(
            _POOL_PER_RESTART * restarts,
            int(gan.latent_dim),
            generator=torch.Generator().manual_seed(seed),
        )
        self._pool = torch.cat([torch.zeros_like(pool[:1]), pool[1:]])  # z = 0: the mode
        if self.latent_radius is not None:
            self._pool = _into_ball(self._pool, self.latent_radius)

    # -- inversion -----------------------------------------------------------------------
    def _probe(self) -> tuple[int, ...]:
        """Shape of one generated point; moves the pool to the generator's device and dtype."""
        if not hasattr(self, "_shape"):
            dtype = getattr(self.gan, "dtype", torch.float32)
            self._pool = self._pool.to(dtype)
            with torch.no_grad():
                out = self.gan.generate(self._pool[:1], torch.zeros(1, dtype=torch.int64))
            self._pool = self._pool.to(out.device)
            self._shape = tuple(out.shape[1:])
        return self._shape

    def _points(self, Z: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Z checked, as (m, D) on the generator's device and dtype, and Z itself."""
        shape = self._probe()
        Z = as_float_tensor(Z, name, ndim=(2, 3, 4))
        dim = math.prod(shape)
        if Z.shape[0] and Z[0].numel() != dim:
            raise ValueError(
                f"{name} must hold points of shape {shape} ({dim} values each), as the "
                f"generator makes; got {name} of shape {tuple(Z.shape)}"
            )
        return Z.reshape(Z.shape[0], dim).to(self._pool.device, self._pool.dtype), Z

    def _starts(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """The ``restarts`` pool codes nearest each point, per class: shape (R, m, q, L)."""
        with torch.no_grad():
            k = self.classes_.numel()
            n = len(self._pool)
            codes = [torch.full((n,), c, device=x.device) for c in range(k)]
            bank = [self.gan.generate(self._pool, c).reshape(n, -1) for c in codes]
            far = torch.stack([torch.cdist(x, out) for out in bank], 1)  # (m, k, pool)
        far = far.gather(1, classes[..., None].expand(*classes.shape, far.shape[2]))  # (m, q, P)
        best = far.topk(self.restarts, dim=2, largest=False).indices  # (m, q, R)
        return self._pool[best].permute(2, 0, 1, 3)

    def _chunk_rows(self, q: int) -> int:
        rows = min(_MAX_CHUNK_ROWS, max(256, _CHUNK_VALUES // math.prod(self._probe())))
        return max(1, rows // (self.restarts * q))

    def _squared_distance(self, x: torch.Tensor) -> torch.Tensor:
        """d(x, M_c)^2 for points (m, D) of the generator's dtype: (m, k), float64."""
        k = self.classes_.numel()
        out = []
        for chunk in torch.split(x, self._chunk_rows(k)):
            classes = torch.arange(k, device=x.device).expand(chunk.shape[0], k)
            search = _Inversion(self, classes, self._starts(chunk, classes))
            search.run(chunk, self.steps)
            out.append(search.closest(chunk)[0])
        return torch.cat(out).double() if out else x.new_zeros(0, k, dtype=torch.float64)

    # distance and log_prob document the same argument Z; each public method states its own.
    def distance(self, Z: Any) -> torch.Tensor:
        """d(z, M_c) = min_w ||z - G(w, c)|| for every point and class.

        Parameters
        ----------
        Z : array-like or tensor of shape (m, *point_shape) or (m, D)

        Returns
        -------
        Tensor of shape (m, k)
            In Z's dtype (float64 for integer input), on Z's device.
        """
        x, Z = self._points(Z, "Z")
        return self._squared_distance(x).sqrt().to(device=Z.device, dtype=Z.dtype)

    def log_prob(self, Z: Any) -> torch.Tensor:
        """log p_c(z) = -d(z, M_c)^2 / (2 sigma^2), up to a constant shared by the classes.

        Parameters
        ----------
        Z : array-like or tensor of shape (m, *point_shape) or (m, D)

        Returns
        -------
        Tensor of shape (m, k)
            Finite, in Z's dtype (float64 for integer input).
        """
        x, Z = self._points(Z, "Z")
        log_prob = -self._squared_distance(x) / (2.0 * self.sigma**2)
        return log_prob.to(device=Z.device, dtype=Z.dtype)

    def targets(self, Z: Any, *, top_k: int | None = None) -> torch.Tensor:
        """GenLabel's labels softmax_c(log p_c(z)), shape (m, k).

        Parameters
        ----------
        Z : array-like or tensor of shape (m, *point_shape) or (m, D)
        top_k : int, optional
            Keep only the ``top_k`` most likely classes, as in :func:`genlabel_targets`.

        Returns
        -------
        Tensor of shape (m, k)
            Rows summing to one.
        """
        return genlabel_targets(self.log_prob(Z), top_k=top_k)

    # -- GenMix ------------------------------------------------------------------------
    def find_ratio_points(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        logit: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Points x with log p_j(x) - log p_i(x) = logit, from the mixup points of a -> b.

        Minimises r(x)^2 with r(x) = (d(x, M_i)^2 - d(x, M_j)^2) / (2 sigma^2) - logit, which
        is zero exactly where log p_j - log p_i = logit in this density's own units. (With
        p_c ∝ exp(-d_c), as the GenLabel paper writes the GAN case, the same condition reads
        d_i - d_j = logit; here p_c ∝ exp(-d_c^2 / (2 sigma^2)).) By the envelope theorem
        grad r = (G(z_j*, j) - G(z_i*, i)) / sigma^2 at the inverted codes z*, and each step
        is the Gauss-Newton step of r along it, x <- x - r grad r / ||grad r||^2 (gradient
        descent on r^2 with its exact step size for an affine r), capped at a quarter of
        ||b - a||. It starts at the mixup point a + lam (b - a), lam = sigmoid(logit), and
        alternates ``ratio_steps`` times with ``steps / ratio_steps`` warm-started inversion
        steps. The point may leave the segment. GenMix then checks the points with
        ``log_prob`` (a fresh inversion), like any other.

        Parameters
        ----------
        a, b : Tensor of shape (s, *point_shape)
            Points of classes i and j.
        i, j : Tensor of shape (s,), int64
        logit : Tensor of shape (s,)
            logit(lam) = log(lam / (1 - lam)).

        Returns
        -------
        x : Tensor of shape (s, *point_shape), in a's dtype
        found : Tensor of shape (s,), bool
            False where the search broke down (a non-finite point).
        """
        start, a = self._points(a, "a")
        end, _ = self._points(b, "b")
        logit = torch.as_tensor(logit, dtype=torch.float64, device=start.device)
        classes = torch.stack([torch.as_tensor(i), torch.as_tensor(j)], 1).to(start.device)
        out = []
        for rows in torch.split(
            torch.arange(start.shape[0], device=start.device), self._chunk_rows(2)
        ):
            out.append(self._ratio_chunk(start[rows], end[rows], classes[rows], logit[rows]))
        x = torch.cat(out) if out else start
        found = torch.isfinite(x).all(1)
        return x.reshape(a.shape).to(device=a.device, dtype=a.dtype), found.to(a.device)

    def _ratio_chunk(
        self, a: torch.Tensor, b: torch.Tensor, classes: torch.Tensor, logit: torch.Tensor
    ) -> torch.Tensor:
        x = a + torch.sigmoid(logit).to(a.dtype).unsqueeze(1) * (b - a)
        cap = 0.25 * (b - a).norm(dim=1, keepdim=True)
        search = _Inversion(self, classes, self._starts(x, classes))
        inner = max(1, self.steps // self.ratio_steps)
        for _ in range(self.ratio_steps):
            search.run(x, inner)
            d2, nearest = search.closest(x)
            r = (d2[:, 0].double() - d2[:, 1].double()) / (2.0 * self.sigma**2) - logit
            grad = (nearest[:, 1] - nearest[:, 0]).double() / self.sigma**2
            g2 = grad.square().sum(1)
            # G_i = G_j (the manifolds cross): no direction changes the ratio; stay.
            step = torch.where(g2 > 0, r / torch.where(g2 > 0, g2, 1.0), 0.0).unsqueeze(1) * grad
            norm = step.norm(dim=1, keepdim=True)
            step = step * (cap.double() / norm.clamp_min(1e-300)).clamp(max=1.0)
            x = x - step.to(x.dtype)
        return x
