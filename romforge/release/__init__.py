"""Releases: the release store, the weekly train, changelogs, the updater index and site."""
