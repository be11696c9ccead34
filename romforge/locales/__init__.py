"""Locale packs, the translator's check, keypads, pinyin and the T9 index."""
