//! The Swagger 2.0 validator reads the official file, refuses keywords it does not implement, and
//! applies the ones it does as the Zipkin model means them.

use std::time::Duration;

use serde_json::json;
use traced_tests::raw;
use traced_tests::schema::Schema;
use traced_tests::{Fault, Receiver, SPANS_PATH};

/// A minimal document with the five definitions the loader requires; `span` is the Span body.
fn document(span: &str) -> String {
    format!(
        "definitions:
  Endpoint:
    type: object
    properties:
      serviceName:
        type: string
  Annotation:
    type: object
    properties:
      value:
        type: string
  Tags:
    type: object
    additionalProperties:
      type: string
  ListOfSpans:
    type: array
    items:
      $ref: \"#/definitions/Span\"
  Span:
{span}"
    )
}

#[test]
fn the_official_file_loads_and_defines_the_span_rules() {
    let schema = Schema::load_default().expect("zipkin2-api.yaml beside the repository");
    let span = json!({ "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2" });
    assert!(schema.validate("Span", &span).is_empty());
    let list = json!([span, { "id": "352bff9a74ca9ad2" }]);
    assert_eq!(
        schema.validate("ListOfSpans", &list),
        ["$[1]: required property traceId is missing"]
    );
    assert_eq!(
        schema.validate(
            "Span",
            &json!({ "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "tags": { "a": 1 } })
        ),
        ["$.tags.a: expected string, got integer 1"]
    );
    assert_eq!(
        schema.validate("Span", &json!([])),
        ["$: expected object, got array []"]
    );
    assert_eq!(
        schema.validate("NoSuchThing", &json!({})),
        ["no definition named NoSuchThing"]
    );
}

#[test]
fn unsupported_keywords_fail_the_load_instead_of_being_ignored() {
    let yaml = document(
        "    type: object\n    properties:\n      id:\n        type: string\n        oneOf: []\n",
    );
    let error = Schema::from_yaml(&yaml).expect_err("oneOf is not implemented");
    assert!(
        error.contains("unsupported schema keyword `oneOf`"),
        "{error}"
    );

    let yaml = document("    type: object\n    properties:\n      id:\n        type: string\n        format: uuid\n");
    let error = Schema::from_yaml(&yaml).expect_err("uuid is not implemented");
    assert!(error.contains("unsupported format `uuid`"), "{error}");

    let error = Schema::from_yaml("definitions: {}").expect_err("no Span");
    assert!(error.contains("no definition"), "{error}");
}

#[test]
fn patterns_are_anchored() {
    let yaml = document("    type: object\n    properties:\n      id:\n        type: string\n        pattern: \"[a-f0-9]{4}\"\n");
    let schema = Schema::from_yaml(&yaml).unwrap();
    assert!(schema.validate("Span", &json!({ "id": "ab12" })).is_empty());
    for bad in ["xab12", "ab12x", "ab123", "AB12"] {
        assert_eq!(
            schema.validate("Span", &json!({ "id": bad })).len(),
            1,
            "{bad}"
        );
    }
}

#[test]
fn unknown_properties_are_allowed_only_when_the_schema_says_so() {
    let strict = Schema::from_yaml(&document(
        "    type: object\n    properties:\n      id:\n        type: string\n",
    ))
    .unwrap();
    assert_eq!(
        strict.validate("Span", &json!({ "id": "a", "extra": 1 })),
        ["$: unknown property extra (the Zipkin model has no such field)"]
    );
    let open = Schema::from_yaml(&document(
        "    type: object\n    additionalProperties: true\n    properties:\n      id:\n        type: string\n",
    ))
    .unwrap();
    assert!(open
        .validate("Span", &json!({ "id": "a", "extra": 1 }))
        .is_empty());
}

#[test]
fn integer_bounds_are_exact() {
    let schema = Schema::load_default().unwrap();
    let span = |duration: serde_json::Value| json!({ "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "duration": duration });
    assert!(schema.validate("Span", &span(json!(1))).is_empty());
    assert!(schema.validate("Span", &span(json!(i64::MAX))).is_empty());
    assert_eq!(
        schema.validate("Span", &span(json!(u64::MAX))),
        ["$.duration: 18446744073709551615 does not fit in int64"]
    );
    assert_eq!(
        schema.validate("Span", &span(json!(-3))),
        ["$.duration: -3 is below the minimum 1"]
    );
    assert_eq!(
        schema.validate("Span", &span(json!("12"))),
        ["$.duration: expected integer, got string \"12\""]
    );
}

#[test]
fn a_load_test_receiver_counts_everything_but_keeps_a_bounded_sample() {
    let receiver = Receiver::start_keeping(Fault::Healthy, 3);
    // Ten spans, each with one violation (duration 0).
    let spans: Vec<_> = (1..=10u64)
        .map(|i| {
            json!({ "traceId": "5af7183fb1d4cf5f", "id": format!("{i:016x}"), "timestamp": 1556604172355737u64,
                    "duration": 0, "localEndpoint": { "serviceName": "load" } })
        })
        .collect();
    let body = serde_json::Value::Array(spans).to_string();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 202);
    assert_eq!(
        receiver.wait_for_span_count(10, Duration::from_secs(10)),
        10
    );
    assert_eq!(receiver.span_count(), 10);
    let kept = receiver.spans();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[2].id, "0000000000000003");
    // Schema minimum and the prose rule, for each of the ten.
    assert_eq!(receiver.violations().len(), 20);
}

#[test]
fn violation_messages_are_capped_but_counted() {
    let receiver = Receiver::start_keeping(Fault::Healthy, 0);
    // 600 spans with two violations each: more than the 1000 messages kept.
    let spans: Vec<_> = (1..=600u64)
        .map(|i| json!({ "traceId": "5af7183fb1d4cf5f", "id": format!("{i:016x}"), "timestamp": 1556604172355737u64,
                         "duration": 0, "localEndpoint": { "serviceName": "load" } }))
        .collect();
    let body = serde_json::Value::Array(spans).to_string();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 202);
    let violations = receiver.violations();
    assert_eq!(violations.len(), 1001);
    assert_eq!(
        violations[1000],
        "... and 200 more violations (only the first 1000 are kept)"
    );
}
