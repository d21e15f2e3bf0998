"""Event contracts: generated protobuf messages (`pixtract.events.v1`) and the topic registry."""
