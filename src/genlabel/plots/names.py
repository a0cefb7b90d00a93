"""The names of the analysis figures (importable without matplotlib, e.g. for help texts)."""

FIGURE_NAMES = (
    "intrusion_maps",
    "decision_boundaries",
    "proposition1",
    "theorem1",
    "intrusion_share",
)
