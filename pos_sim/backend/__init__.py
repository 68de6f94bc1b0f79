"""The simulated wallet provider: an Alipay+/Antom-compatible in-store payments server on a real ledger."""
