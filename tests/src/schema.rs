//! Validation of JSON spans against the `definitions` of the official `zipkin2-api.yaml`.
//!
//! The file is Swagger 2.0, whose schema objects are a dialect of JSON Schema draft 4 (`$ref` to
//! `#/definitions/...`, `format` values such as `ipv4`, no `$schema`). The JSON Schema crates
//! target later drafts and do not read Swagger documents, so this is a small validator for the
//! exact keyword subset the Zipkin model uses. Loading fails on any keyword outside that subset,
//! so a newer definitions file can never be validated only partially without anyone noticing.
//!
//! Two deliberate choices:
//! - `pattern` is anchored (`^(?:…)$`). The file writes `[a-f0-9]{16}` meaning the whole id, and
//!   Zipkin's own parsers enforce the whole id; an unanchored search would accept `ABC` + 16 hex.
//! - An object schema with `properties` and no `additionalProperties` rejects unknown properties.
//!   Zipkin's model has fixed fields and silently drops anything else, so an extra field is an
//!   exporter bug that Zipkin would hide.

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::{Map, Value};

/// The keywords this validator implements (the rest are annotations without meaning here).
const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "enum",
    "format",
    "items",
    "uniqueItems",
    "title",
    "description",
    "example",
];
const FORMATS: &[&str] = &["int32", "int64", "ipv4", "ipv6"];

/// The Zipkin v2 model definitions, ready to validate JSON values.
///
/// ```
/// use traced_tests::schema::Schema;
/// let schema = Schema::load_default().unwrap();
/// let span = serde_json::json!({ "traceId": "5af7183fb1d4cf5f", "id": "352BFF9A74CA9AD2" });
/// let problems = schema.validate("Span", &span);
/// assert_eq!(problems.len(), 1, "{problems:?}");
/// assert!(problems[0].starts_with("$.id: "), "{problems:?}");
/// ```
#[derive(Debug)]
pub struct Schema {
    definitions: Map<String, Value>,
    patterns: BTreeMap<String, Regex>,
}

impl Schema {
    /// The directory holding the official definitions: `$ZIPKIN_API_DIR` when set, else
    /// the copies vendored in `tests/zipkin-api/` (see its README for their origin).
    pub fn api_dir() -> PathBuf {
        match std::env::var_os("ZIPKIN_API_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("zipkin-api"),
        }
    }

    /// Loads `zipkin2-api.yaml` from [`Schema::api_dir`].
    pub fn load_default() -> Result<Schema, String> {
        Schema::load(&Schema::api_dir().join("zipkin2-api.yaml"))
    }

    /// Loads a Swagger 2.0 document from `path`.
    pub fn load(path: &Path) -> Result<Schema, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Schema::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a Swagger 2.0 document and checks that the `Span` model uses only known keywords.
    pub fn from_yaml(text: &str) -> Result<Schema, String> {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let document = serde_json::to_value(yaml)
            .map_err(|e| format!("YAML not representable as JSON: {e}"))?;
        let definitions = document
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or("no `definitions` object")?
            .clone();
        let mut schema = Schema {
            definitions,
            patterns: BTreeMap::new(),
        };
        for root in ["ListOfSpans", "Span", "Endpoint", "Annotation", "Tags"] {
            let definition = schema
                .definitions
                .get(root)
                .ok_or_else(|| format!("no definition {root}"))?
                .clone();
            schema.prepare(
                &definition,
                &format!("#/definitions/{root}"),
                &mut HashSet::new(),
            )?;
        }
        Ok(schema)
    }

    /// Checks keywords and compiles patterns, following `$ref`s once each.
    fn prepare(
        &mut self,
        node: &Value,
        at: &str,
        seen: &mut HashSet<String>,
    ) -> Result<(), String> {
        let obj = node
            .as_object()
            .ok_or_else(|| format!("{at}: a schema must be an object"))?;
        for key in obj.keys() {
            if !KEYWORDS.contains(&key.as_str()) {
                return Err(format!("{at}: unsupported schema keyword `{key}`"));
            }
        }
        if let Some(reference) = obj.get("$ref") {
            let target = self.resolve(reference)?.clone();
            if seen.insert(reference.to_string()) {
                self.prepare(&target, &reference.to_string(), seen)?;
            }
            return Ok(());
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str) {
            if !FORMATS.contains(&format) {
                return Err(format!("{at}: unsupported format `{format}`"));
            }
        }
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
            let regex = Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("{at}: bad pattern: {e}"))?;
            self.patterns.insert(pattern.to_owned(), regex);
        }
        if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
            for (name, sub) in properties.clone() {
                self.prepare(&sub, &format!("{at}/properties/{name}"), seen)?;
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = obj.get(key).filter(|s| s.is_object()).cloned() {
                self.prepare(&sub, &format!("{at}/{key}"), seen)?;
            }
        }
        Ok(())
    }

    fn resolve<'a>(&'a self, reference: &Value) -> Result<&'a Value, String> {
        let text = reference.as_str().ok_or("$ref must be a string")?;
        let name = text
            .strip_prefix("#/definitions/")
            .ok_or_else(|| format!("unsupported $ref {text}"))?;
        self.definitions
            .get(name)
            .ok_or_else(|| format!("$ref to unknown definition {text}"))
    }

    /// Validates `value` against definition `name` (`Span`, `ListOfSpans`, ...). Each problem
    /// starts with the JSON path of the offending value (`$.localEndpoint.port: ...`).
    pub fn validate(&self, name: &str, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        match self.definitions.get(name) {
            Some(definition) => self.check(definition, value, &At::Root, &mut out),
            None => out.push(format!("no definition named {name}")),
        }
        out
    }

    fn check(&self, schema: &Value, value: &Value, at: &At<'_>, out: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        if let Some(reference) = schema.get("$ref") {
            // Swagger 2.0: siblings of `$ref` (here only descriptions) are ignored.
            match self.resolve(reference) {
                Ok(target) => self.check(target, value, at, out),
                Err(e) => out.push(format!("{at}: {e}")),
            }
            return;
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            if !has_type(value, expected) {
                out.push(format!(
                    "{at}: expected {expected}, got {}",
                    describe(value)
                ));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                out.push(format!(
                    "{at}: {value} is not one of {}",
                    Value::Array(allowed.clone())
                ));
            }
        }
        match value {
            Value::String(s) => self.check_string(schema, s, at, out),
            Value::Number(_) => check_number(schema, value, at, out),
            Value::Object(obj) => self.check_object(schema, obj, at, out),
            Value::Array(items) => self.check_array(schema, items, at, out),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn check_string(
        &self,
        schema: &Map<String, Value>,
        s: &str,
        at: &At<'_>,
        out: &mut Vec<String>,
    ) {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if chars < min {
                out.push(format!("{at}: {s:?} is shorter than {min} characters"));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if chars > max {
                out.push(format!("{at}: {s:?} is longer than {max} characters"));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            if let Some(regex) = self.patterns.get(pattern) {
                if !regex.is_match(s) {
                    out.push(format!("{at}: {s:?} does not match ^{pattern}$"));
                }
            }
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("ipv4") if s.parse::<Ipv4Addr>().is_err() => {
                out.push(format!("{at}: {s:?} is not an IPv4 address"));
            }
            Some("ipv6") if s.parse::<Ipv6Addr>().is_err() => {
                out.push(format!("{at}: {s:?} is not an IPv6 address"));
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Map<String, Value>,
        obj: &Map<String, Value>,
        at: &At<'_>,
        out: &mut Vec<String>,
    ) {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    out.push(format!("{at}: required property {name} is missing"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, value) in obj {
            let path = At::Key(at, name);
            if let Some(sub) = properties.and_then(|p| p.get(name)) {
                self.check(sub, value, &path, out);
                continue;
            }
            match schema.get("additionalProperties") {
                Some(Value::Bool(true)) => {}
                Some(sub @ Value::Object(_)) => self.check(sub, value, &path, out),
                Some(_) | None if properties.is_some() => {
                    out.push(format!(
                        "{at}: unknown property {name} (the Zipkin model has no such field)"
                    ));
                }
                Some(Value::Bool(false)) => out.push(format!("{at}: unexpected property {name}")),
                _ => {}
            }
        }
    }

    fn check_array(
        &self,
        schema: &Map<String, Value>,
        items: &[Value],
        at: &At<'_>,
        out: &mut Vec<String>,
    ) {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &At::Index(at, i), out);
            }
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
            let mut seen = HashSet::new();
            for (i, item) in items.iter().enumerate() {
                if !seen.insert(item.to_string()) {
                    out.push(format!("{at}[{i}]: duplicate item {item}"));
                }
            }
        }
    }
}

/// Where a value sits in the document, formatted only when a problem is reported (validation
/// runs on every received span, and most have none).
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root => f.write_str("$"),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        // `1.0` parses as a float; JSON Schema draft 4 (Swagger 2.0) does not count it as integer.
        "integer" => value.is_i64() || value.is_u64(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.len() > 80 {
        format!("{kind} {}…", text.chars().take(80).collect::<String>())
    } else {
        format!("{kind} {text}")
    }
}

fn check_number(schema: &Map<String, Value>, value: &Value, at: &At<'_>, out: &mut Vec<String>) {
    match schema.get("format").and_then(Value::as_str) {
        Some("int64") if !value.is_i64() => {
            out.push(format!("{at}: {value} does not fit in int64"))
        }
        Some("int32") if value.as_i64().and_then(|v| i32::try_from(v).ok()).is_none() => {
            out.push(format!("{at}: {value} does not fit in int32"))
        }
        _ => {}
    }
    if let Some(min) = schema.get("minimum") {
        if compare(value, min) == Some(std::cmp::Ordering::Less) {
            out.push(format!("{at}: {value} is below the minimum {min}"));
        }
    }
    if let Some(max) = schema.get("maximum") {
        if compare(value, max) == Some(std::cmp::Ordering::Greater) {
            out.push(format!("{at}: {value} is above the maximum {max}"));
        }
    }
}

/// Compares two JSON numbers: exactly when both are integers (an f64 is exact only up to 2^53,
/// and an int64 field may hold more), else as floats.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let int = |v: &Value| {
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}
