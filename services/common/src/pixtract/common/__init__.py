"""Code every Pixtract service shares: settings, logging, HTTP plumbing, auth, clients, Kafka."""
