"""``make bench``: the project's latency, cold start, overhead and Mojang traffic, measured
against the fake model and fake Mojang servers with configurable latency (see run.py)."""
