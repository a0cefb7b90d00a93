"""Pictures: the analysis figures."""

from .figures import FIGURES, write_figures

__all__ = ["FIGURES", "write_figures"]
