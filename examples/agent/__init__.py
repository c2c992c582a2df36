"""An offline, deterministic tool-calling agent: the example `threadloom dev` serves."""
