//! Hand-written support code for the generated wire layer: raw request access,
//! query decoding, validation bookkeeping and the small JSON readers that the
//! generated `from_wire` constructors are built from.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde_json::{Map, Value};

use crate::generated::{ValidationException, ValidationExceptionReason};

/// The `reason` of a [`ValidationError`]; the model's `ValidationExceptionReason`.
pub type ValidationReason = ValidationExceptionReason;

// ---- raw requests -------------------------------------------------------------------------------

/// The protocol-level pieces of an HTTP request that the generated
/// `from_wire` constructors read. The wire crate knows nothing about the HTTP
/// library in use: the caller supplies a header lookup, which must be
/// case-insensitive (the generated code asks with lower-case names).
pub struct RawRequest<'a> {
    /// The decoded query string.
    pub query: &'a QueryParams,
    /// Header lookup by name.
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The request body (may be empty).
    pub body: &'a [u8],
}

impl fmt::Debug for RawRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRequest")
            .field("query", self.query)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A header lookup that finds nothing, for requests without headers.
pub fn no_headers(_name: &str) -> Option<String> {
    None
}

/// A decoded query string. Keys and values are percent-decoded (invalid UTF-8
/// is replaced); `+` is kept as a literal `+` (AWS SDKs encode spaces as
/// `%20`). When a key repeats, the last value wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    params: BTreeMap<String, String>,
}

impl QueryParams {
    /// Parses a raw query string (without or with a leading `?`).
    pub fn parse(raw: &str) -> QueryParams {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        let mut params = BTreeMap::new();
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(decode(key), decode(value));
        }
        QueryParams { params }
    }

    /// The decoded value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// All decoded parameters, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of distinct parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

// ---- errors -------------------------------------------------------------------------------------

/// A request that could not be parsed or failed the model's constraints;
/// rendered by the HTTP layer as a `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub reason: ValidationReason,
    pub message: String,
}

impl ValidationError {
    /// A `CANNOT_PARSE` error.
    pub fn cannot_parse(message: impl Into<String>) -> Self {
        Self {
            reason: ValidationReason::CannotParse,
            message: message.into(),
        }
    }

    /// A `FIELD_VALIDATION_FAILED` error.
    pub fn field_validation(message: impl Into<String>) -> Self {
        Self {
            reason: ValidationReason::FieldValidationFailed,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason.as_str())
    }
}

impl std::error::Error for ValidationError {}

impl From<ValidationError> for ValidationException {
    fn from(err: ValidationError) -> Self {
        ValidationException {
            message: err.message,
            reason: Some(err.reason),
        }
    }
}

/// Collects constraint violations in the AWS message format:
/// `Value 'x' at 'path' failed to satisfy constraint: Member must …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    messages: Vec<String>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// The individual violation messages, in the order found.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// Records a violation of `constraint` by the (rendered) `value` at `path`.
    pub fn push(&mut self, value: &str, path: &str, constraint: &str) {
        self.messages.push(format!(
            "Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a missing required member.
    pub fn missing(&mut self, path: &str) {
        self.messages.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// String length bounds, counted in Unicode scalar values.
    pub fn length(&mut self, value: &str, path: &str, min: Option<u64>, max: Option<u64>) {
        let len = value.chars().count();
        self.size(value, len, path, min, max);
    }

    /// Size bounds of a string, list or map; `rendered` is the value as shown in the message.
    pub fn size(
        &mut self,
        rendered: &str,
        len: usize,
        path: &str,
        min: Option<u64>,
        max: Option<u64>,
    ) {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        if let Some(min) = min.filter(|min| len < *min) {
            self.push(
                rendered,
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| len > *max) {
            self.push(
                rendered,
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A full match of `regex` (compiled from the model's `pattern`, anchored).
    pub fn pattern(&mut self, value: &str, path: &str, regex: &Regex, pattern: &str) {
        if !regex.is_match(value) {
            self.push(
                value,
                path,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Numeric range bounds.
    pub fn range(&mut self, value: i64, path: &str, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|min| value < *min) {
            self.push(
                &value.to_string(),
                path,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| value > *max) {
            self.push(
                &value.to_string(),
                path,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// A value outside an enum's value set.
    pub fn enum_value(&mut self, value: &str, path: &str, values: &[&str]) {
        self.push(
            value,
            path,
            &format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ),
        );
    }

    /// The collected violations as one error (`N validation error(s) detected: …; …`).
    pub fn into_error(self) -> ValidationError {
        let n = self.messages.len();
        let noun = if n == 1 { "error" } else { "errors" };
        ValidationError::field_validation(format!(
            "{n} validation {noun} detected: {}",
            self.messages.join("; ")
        ))
    }

    /// Fails with the collected violations, if any; otherwise builds the value.
    /// `build` returns `None` only when a required member is absent, which has
    /// always been recorded as a violation before.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ValidationError> {
        if !self.is_empty() {
            return Err(self.into_error());
        }
        build().ok_or_else(|| {
            ValidationError::field_validation("1 validation error detected: incomplete request")
        })
    }
}

// ---- enums --------------------------------------------------------------------------------------

/// Implemented by every generated enum shape.
pub trait WireEnum: Sized + Copy + 'static {
    /// The model's values, in model order.
    const VALUES: &'static [&'static str];
    /// The enum for an exact model value.
    fn parse(s: &str) -> Option<Self>;
    /// The model value.
    fn as_str(self) -> &'static str;
}

// ---- readers used by generated code -------------------------------------------------------------

/// Reads one JSON value of a shape: `Err` for a value of the wrong JSON type
/// (`CANNOT_PARSE`), `Ok(None)` when the value violated a constraint that
/// prevents building it (already recorded in the violations).
pub type Reader<T> = fn(&Value, &str, &mut Violations) -> Result<Option<T>, ValidationError>;

/// A constraint check of a scalar shape.
pub type Check<T> = fn(&T, &str, &mut Violations);

/// The check of a shape without constraints.
pub fn unchecked<T: ?Sized>(_value: &T, _path: &str, _violations: &mut Violations) {}

/// Parses a JSON request body into its members. An empty body or `null`
/// has no members.
pub fn json_body(body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ValidationError::cannot_parse(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ValidationError::cannot_parse(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// The path of member `name` inside the structure at `path`.
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn wrong_type(path: &str, expected: &str) -> ValidationError {
    ValidationError::cannot_parse(format!(
        "Value at '{path}' could not be parsed: expected {expected}"
    ))
}

/// A member of a JSON object: absent or `null` is `None` (a violation if required).
pub fn field<T>(
    raw: Option<&Value>,
    path: &str,
    required: bool,
    violations: &mut Violations,
    read: Reader<T>,
) -> Result<Option<T>, ValidationError> {
    match raw {
        None | Some(Value::Null) => {
            if required {
                violations.missing(path);
            }
            Ok(None)
        }
        Some(value) => read(value, path, violations),
    }
}

/// A JSON object (structure shape).
pub fn json_object<'v>(
    value: &'v Value,
    path: &str,
) -> Result<&'v Map<String, Value>, ValidationError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object"))
}

/// A JSON string.
pub fn json_string(value: &Value, path: &str) -> Result<String, ValidationError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong_type(path, "a string"))
}

/// A JSON string of a shape without constraints.
pub fn read_string(
    value: &Value,
    path: &str,
    _violations: &mut Violations,
) -> Result<Option<String>, ValidationError> {
    json_string(value, path).map(Some)
}

/// A JSON integral number that fits `i32`.
pub fn json_i32(value: &Value, path: &str) -> Result<i32, ValidationError> {
    value
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| wrong_type(path, "a 32-bit integer"))
}

/// An `i32` of a shape without constraints.
pub fn read_i32(
    value: &Value,
    path: &str,
    _violations: &mut Violations,
) -> Result<Option<i32>, ValidationError> {
    json_i32(value, path).map(Some)
}

/// A JSON integral number that fits `i64`.
pub fn json_i64(value: &Value, path: &str) -> Result<i64, ValidationError> {
    value
        .as_i64()
        .ok_or_else(|| wrong_type(path, "a 64-bit integer"))
}

/// An `i64` of a shape without constraints.
pub fn read_i64(
    value: &Value,
    path: &str,
    _violations: &mut Violations,
) -> Result<Option<i64>, ValidationError> {
    json_i64(value, path).map(Some)
}

/// A JSON boolean.
pub fn read_bool(
    value: &Value,
    path: &str,
    _violations: &mut Violations,
) -> Result<Option<bool>, ValidationError> {
    value
        .as_bool()
        .map(Some)
        .ok_or_else(|| wrong_type(path, "a boolean"))
}

/// A timestamp: restJson1 sends epoch seconds as a JSON number.
pub fn read_timestamp(
    value: &Value,
    path: &str,
    _violations: &mut Violations,
) -> Result<Option<f64>, ValidationError> {
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| wrong_type(path, "a timestamp in epoch seconds"))
}

/// A JSON string that must be one of the enum's values.
pub fn read_enum<E: WireEnum>(
    value: &Value,
    path: &str,
    violations: &mut Violations,
) -> Result<Option<E>, ValidationError> {
    let s = value.as_str().ok_or_else(|| wrong_type(path, "a string"))?;
    Ok(parse_enum(s, path, violations))
}

fn parse_enum<E: WireEnum>(s: &str, path: &str, violations: &mut Violations) -> Option<E> {
    let parsed = E::parse(s);
    if parsed.is_none() {
        violations.enum_value(s, path, E::VALUES);
    }
    parsed
}

/// A JSON array with size bounds; items are at `path.N.member` (1-based).
pub fn read_list<T>(
    value: &Value,
    path: &str,
    violations: &mut Violations,
    (min, max): (Option<u64>, Option<u64>),
    item: Reader<T>,
) -> Result<Option<Vec<T>>, ValidationError> {
    let items = value
        .as_array()
        .ok_or_else(|| wrong_type(path, "an array"))?;
    violations.size(&render(value), items.len(), path, min, max);
    let mut out = Vec::with_capacity(items.len());
    let mut complete = true;
    for (i, raw) in items.iter().enumerate() {
        let item_path = format!("{path}.{}.member", i + 1);
        match field(Some(raw), &item_path, true, violations, item)? {
            Some(parsed) => out.push(parsed),
            None => complete = false,
        }
    }
    Ok(complete.then_some(out))
}

/// A JSON object used as a map with size bounds; keys are checked at `path`,
/// values at `path.KEY`.
pub fn read_map<K: Ord, V>(
    value: &Value,
    path: &str,
    violations: &mut Violations,
    (min, max): (Option<u64>, Option<u64>),
    key: fn(&str, &str, &mut Violations) -> Option<K>,
    item: Reader<V>,
) -> Result<Option<BTreeMap<K, V>>, ValidationError> {
    let entries = value
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object"))?;
    violations.size(&render(value), entries.len(), path, min, max);
    let mut out = BTreeMap::new();
    let mut complete = true;
    for (raw_key, raw) in entries {
        let parsed_key = key(raw_key, path, violations);
        let parsed = field(
            Some(raw),
            &format!("{path}.{raw_key}"),
            true,
            violations,
            item,
        )?;
        match (parsed_key, parsed) {
            (Some(k), Some(v)) => {
                out.insert(k, v);
            }
            _ => complete = false,
        }
    }
    Ok(complete.then_some(out))
}

/// Renders a JSON value the way AWS error messages show values (`[a, b]`, `{k=v}`).
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(entries) => {
            format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}={}", render(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        other => other.to_string(),
    }
}

/// A string from the query string or a header (also map keys).
pub fn text_string(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
    check: Check<str>,
) -> Option<String> {
    let Some(s) = raw else {
        if required {
            violations.missing(path);
        }
        return None;
    };
    check(s, path, violations);
    Some(s.to_owned())
}

/// An enum value from the query string or a header (also map keys).
pub fn text_enum<E: WireEnum>(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
) -> Option<E> {
    let Some(s) = raw else {
        if required {
            violations.missing(path);
        }
        return None;
    };
    parse_enum(s, path, violations)
}

/// An enum map key.
pub fn key_enum<E: WireEnum>(key: &str, path: &str, violations: &mut Violations) -> Option<E> {
    parse_enum(key, path, violations)
}

fn text_parsed<T: std::str::FromStr>(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
    what: &str,
) -> Option<T> {
    let Some(s) = raw else {
        if required {
            violations.missing(path);
        }
        return None;
    };
    let digits = s.strip_prefix('-').unwrap_or(s);
    let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    };
    if parsed.is_none() {
        violations.push(s, path, &format!("Member must be {what}"));
    }
    parsed
}

/// A decimal `i32` from the query string or a header.
pub fn text_i32(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
    check: Check<i32>,
) -> Option<i32> {
    let n = text_parsed(raw, path, required, violations, "a 32-bit integer")?;
    check(&n, path, violations);
    Some(n)
}

/// A decimal `i64` from the query string or a header.
pub fn text_i64(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
    check: Check<i64>,
) -> Option<i64> {
    let n = text_parsed(raw, path, required, violations, "a 64-bit integer")?;
    check(&n, path, violations);
    Some(n)
}

/// `true` or `false` from the query string or a header.
pub fn text_bool(
    raw: Option<&str>,
    path: &str,
    required: bool,
    violations: &mut Violations,
) -> Option<bool> {
    let Some(s) = raw else {
        if required {
            violations.missing(path);
        }
        return None;
    };
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            violations.push(s, path, "Member must be a boolean (true or false)");
            None
        }
    }
}

/// Builds a structure from its members once all required ones are present.
pub fn build<T>(build: impl FnOnce() -> Option<T>) -> Option<T> {
    build()
}

// ---- operation metadata -------------------------------------------------------------------------

/// Pagination metadata of an operation, from the model's paginators file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Paginator {
    pub input_token: &'static str,
    pub output_token: &'static str,
    pub limit_key: Option<&'static str>,
    pub result_key: &'static [&'static str],
}
