"""A tiny graph with a subgraph and an optional delay, handy for tests and benchmarks."""
