"""MongoDB stores behind the domain's Protocols, and signing keys on disk."""
