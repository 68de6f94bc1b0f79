"""pos-sim: a point-of-sale terminal simulator with QR and barcode scanning."""

__version__ = "0.1.0"
