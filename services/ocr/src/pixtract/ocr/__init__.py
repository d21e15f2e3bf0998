"""Pixtract OCR service: reads the text of every uploaded image."""
