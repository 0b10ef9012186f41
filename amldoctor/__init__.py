"""amldoctor: explains why ML workloads on Kubernetes are not running, and what to change."""

__version__ = "0.1.0"
