"""Pixtract upload service: originals, thumbnails, image records and their pipeline state."""
