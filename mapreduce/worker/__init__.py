"""The Worker daemon (server.py, daemon.py), the task child process it runs for every
attempt (task.py), and the shuffle both sides of which live here (shuffle.py serves
map outputs, fetcher.py fetches them into a reduce attempt)."""
