"""The boot screen: the bootanimation.zip format, credits pages, text rendering, previews."""
