"""Benchmarks run by ``voxdesk bench <name>``; each writes a flat JSON object and a docs section."""
