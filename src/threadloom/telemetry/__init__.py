"""What Threadloom tells operators about itself: Prometheus metrics (metrics.py) and optional
OpenTelemetry traces (tracing.py, node_spans.py)."""
