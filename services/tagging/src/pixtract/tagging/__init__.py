"""Pixtract tagging service: labels, categories, colours and places of every uploaded image."""
