"""Framework events -> OpenTelemetry spans. Imports `tracetape.spans`, never the store."""
