"""Run record ↔ view mappings for the Letta and SeekrFlow APIs (reference/other-apis.md §3).

Pure functions over `storage.records`: no HTTP, no storage, so the same run renders the same
way in every API and the mappings are unit-testable.
"""
