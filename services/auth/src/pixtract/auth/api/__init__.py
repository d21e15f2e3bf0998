"""HTTP routes of the auth service: thin, typed, problem+json on every error."""
