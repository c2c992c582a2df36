"""Routers for the other runs APIs Threadloom answers: Letta v1 and SeekrFlow (`/v1/...`)."""
