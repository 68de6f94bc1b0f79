"""The terminal's screens; ``terminal.TerminalScreen`` is the frame they share (title, face, wallet pane, keys)."""
