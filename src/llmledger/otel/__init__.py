"""OpenTelemetry out and in (the ``otel`` extra for export). ``attributes`` maps a UsageEvent to
the GenAI semantic conventions and back (pure), ``exporter`` emits a span and the
``gen_ai.client.token.usage`` histogram for every recorded event, ``otlp_json`` reads OTLP/JSON
files (spans and log records) into events for ``llmledger import otel``."""
