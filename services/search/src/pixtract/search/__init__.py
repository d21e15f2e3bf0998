"""Pixtract search service: the OpenSearch index of every image and the search API."""
