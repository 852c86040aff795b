"""Evidence: records, upload sessions, sealing and the chain of custody (bytes live in storage/)."""
