"""Pictures: the analysis figures."""

from .figures import FIGURE_STEPS, FIGURES, unchanged_figures, write_figures

__all__ = ["FIGURES", "FIGURE_STEPS", "unchanged_figures", "write_figures"]
