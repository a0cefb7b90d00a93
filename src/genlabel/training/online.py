"""The online labeler of Algorithm 3 lives in :mod:`genlabel.density.online`; re-exported."""

from ..density.online import OnlineGaussianLabeler

__all__ = ["OnlineGaussianLabeler"]
