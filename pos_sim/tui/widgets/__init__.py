"""Widgets of the terminal UI: the QR code drawn in half blocks, the customer's wallet pane."""
