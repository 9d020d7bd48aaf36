"""OTLP export beside the tape, and recording through the user's own provider."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracetape


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector(monkeypatch) -> Iterator[type[_Collector]]:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{server.server_port}/v1/traces"
    )
    try:
        yield _Collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_spans_reach_an_otlp_collector_and_the_tape(tmp_path, collector):
    tape = tracetape.open(tmp_path / "tape.duckdb", otlp=True)
    try:
        with tracetape.span("outer", attributes={"k": 4}), tracetape.span("inner"):
            pass
        assert tape.flush() == 2
    finally:
        tape.close()
    names = {
        span.name
        for request in collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert names == {"outer", "inner"}
    resource_keys = {
        attr.key
        for request in collector.received
        for resource in request.resource_spans
        for attr in resource.resource.attributes
    }
    assert "tracetape.environment.id" in resource_keys


def test_recording_through_the_users_tracer_provider(tmp_path):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tape = tracetape.open(tmp_path / "tape.duckdb", tracer_provider=provider)
    try:
        with tracetape.span("mine"):
            pass
        tape.flush()
        assert [s.name for s in exporter.get_finished_spans()] == ["mine"]
        row = tape.sql("select name, environment_id from spans").iloc[0]
        assert row["name"] == "mine"
        assert row.environment_id == tape.environment()["environment_id"]
    finally:
        tape.close()
        provider.shutdown()
