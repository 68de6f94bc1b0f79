"""The browser's side: ``pos-sim serve``'s terminals (one ``pos-sim tui`` process per browser session,
through textual-serve), the trainer's page and the customer's phone. UI only, composed by ``cli``;
like the terminal UI it reaches the backend over HTTP only."""
