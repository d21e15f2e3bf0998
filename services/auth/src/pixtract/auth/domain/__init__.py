"""Pure logic of the auth service: no network, no database; stores are Protocols."""
