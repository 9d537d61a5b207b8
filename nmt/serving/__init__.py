"""Serving translations over HTTP: the application (api.py), micro-batching (batcher.py), the server process
(server.py), the page (static/index.html), and a launcher that starts `nmt serve` as a user would
(launch.py)."""
