"""romforge: one base Android ROM in, a customized ROM per device and signed OTAs out."""

__version__ = "0.1.0"
