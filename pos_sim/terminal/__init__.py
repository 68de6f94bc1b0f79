"""The point-of-sale core, without a UI: the AMS gateway client, the payment journal, the payment flow
that takes every payment request to exactly one known outcome, and the register built on them (cart,
tenders, sales book, voids, refunds, receipts, X and Z reports, training mode), configured by one
``TerminalSettings``.

It reaches any payment backend, the simulated one included, over HTTP only: nothing here imports
``pos_sim.backend`` (import-linter holds it to that).
"""
