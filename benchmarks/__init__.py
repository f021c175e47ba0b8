"""``make bench``: the project's latency, cold start, overhead and Mojang traffic, measured
against the stand-in model and Mojang API with configurable latency (see run.py)."""
