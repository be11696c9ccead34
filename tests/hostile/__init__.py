"""Hostile inputs made at run time against every entry point (issue #15)."""
