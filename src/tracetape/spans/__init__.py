"""The boundary between capture and store: OpenTelemetry spans and what they carry."""
