"""Generated protobuf messages for the v1 event contracts (see proto/)."""
