"""bioleak: find leaked biometric data on black markets, prove whose it is, tell the owner."""

__version__ = "0.1.0"
