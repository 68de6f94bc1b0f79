"""Pure values and rules of the payment domain: no I/O, and no import of the rest of the package."""
