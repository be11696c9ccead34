"""Partition images, update_engine payloads and signed A/B OTA packages."""
