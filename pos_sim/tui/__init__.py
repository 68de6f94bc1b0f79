"""The terminal UI: a Smartpay-style payment terminal in Textual, with the customer's wallet beside it.

``app.PosApp`` holds the register (``terminal.Register``, opened at sign-in) and, against the
simulator, its admin API (``scenarios.simulator.Simulator``) for the wallet pane and the presenter's
faults. Every call that blocks (the gateway, the simulator, decoding) runs in a worker thread, one
register call at a time, and comes back to the UI thread; nothing touches a widget from a thread.

Screens (``screens/``): sign-in, sale (keypad and cart), tender choice, scan the customer's code,
order code (the QR drawn in half blocks, with a countdown), authorising, result, receipt, journal
(search, void, refund), X/Z reports, settings, training exercises. Widgets (``widgets/``): the QR
code and the customer's wallet. Every action has a key shown in the footer and a command in the
palette (``actions.ACTIONS``).
"""
