"""finbridge: an open smart-finance platform for a bank and its internet partners."""

__version__ = "0.1.0"
