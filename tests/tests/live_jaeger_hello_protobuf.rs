//! `OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf cargo run --example hello`
//! into a real Jaeger v2 (see `jaeger_hello_support`).

mod jaeger_hello_support;

#[test]
fn hello_over_otlp_protobuf_is_one_trace_in_jaeger() {
    jaeger_hello_support::hello_in_jaeger("http/protobuf", "Hello-Protobuf");
}
