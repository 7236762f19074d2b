"""dt-platform: a secure, verifiable digital-twin platform for predictive maintenance."""

__version__ = "0.1.0"
