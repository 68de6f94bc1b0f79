"""The simulated provider's services: what each call does, over the store, free of HTTP (pyproject.toml's
import-linter contract). ``gateway.py`` verifies and answers a signed call and makes the services of one
backend: ``payments.py`` (pay, inquire, cancel, refund, scan), ``tokens.py`` (phone wallet device tokens),
``wallets.py``, ``merchants.py``, ``notifications.py`` (payment result notifications, sent),
``faults.py`` (faults armed on purpose), ``transit.py`` (issuer keys and the key ring, ride codes, the deny
list, tap uploads) and ``clearing.py`` (taps to journeys to fares to charges)."""
