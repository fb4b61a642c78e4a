"""yoi: an agent runtime and workspace control plane."""

__version__ = "0.1.0"
