"""Feature overlays: overlay.toml specs, resolution and application (see the overlays issue)."""
