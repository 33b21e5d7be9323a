//! The subset of the botocore service model (and paginators file) that the
//! code generator understands. Anything outside that subset is an error, so a
//! model update cannot silently generate something wrong.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

pub struct Model {
    pub shapes: BTreeMap<String, Shape>,
    pub operations: BTreeMap<String, Operation>,
    pub paginators: BTreeMap<String, Paginator>,
}

pub enum Shape {
    String {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<String>,
        values: Option<Vec<String>>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Long {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    Timestamp,
    Blob,
    List {
        member: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    Map {
        key: String,
        value: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    Structure(Structure),
}

pub struct Structure {
    /// Sorted by member name.
    pub members: Vec<Member>,
    pub required: BTreeSet<String>,
    /// The member bound to the whole HTTP payload (a streaming blob here).
    pub payload: Option<String>,
    pub error: Option<ErrorInfo>,
}

pub struct ErrorInfo {
    pub status: u16,
    pub fault: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Body,
    Query,
    Header,
}

pub struct Member {
    pub name: String,
    pub shape: String,
    pub location: Location,
    /// The query parameter or header name (`location != Body`).
    pub location_name: String,
}

pub struct Operation {
    pub method: String,
    pub uri: String,
    pub input: String,
    pub output: String,
    pub errors: Vec<String>,
}

pub struct Paginator {
    pub input_token: String,
    pub output_token: String,
    pub limit_key: Option<String>,
    pub result_key: Vec<String>,
}

impl Structure {
    pub fn is_required(&self, member: &str) -> bool {
        self.required.contains(member)
    }

    /// Members that are fields of the generated struct (all but a blob payload).
    pub fn fields<'a>(&'a self, model: &'a Model) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| !matches!(model.shapes.get(&m.shape), Some(Shape::Blob)))
    }
}

impl Model {
    pub fn load(service: &str, paginators: &str) -> Result<Model> {
        let service: Value = serde_json::from_str(service).context("parsing the service model")?;
        let paginators: Value =
            serde_json::from_str(paginators).context("parsing the paginators file")?;

        let mut shapes = BTreeMap::new();
        for (name, shape) in object(&service, "shapes")? {
            shapes.insert(
                name.clone(),
                parse_shape(shape).with_context(|| format!("shape {name}"))?,
            );
        }
        let mut operations = BTreeMap::new();
        for (name, op) in object(&service, "operations")? {
            operations.insert(
                name.clone(),
                parse_operation(op).with_context(|| format!("operation {name}"))?,
            );
        }
        let mut pages = BTreeMap::new();
        for (name, p) in object(&paginators, "pagination")? {
            pages.insert(
                name.clone(),
                parse_paginator(p).with_context(|| format!("paginator {name}"))?,
            );
        }
        let model = Model {
            shapes,
            operations,
            paginators: pages,
        };
        model.check()?;
        Ok(model)
    }

    pub fn shape(&self, name: &str) -> &Shape {
        // `check` verified every reference.
        &self.shapes[name]
    }

    pub fn structure(&self, name: &str) -> &Structure {
        match self.shape(name) {
            Shape::Structure(s) => s,
            _ => panic!("{name} is not a structure; checked on load"),
        }
    }

    fn check(&self) -> Result<()> {
        let exists = |name: &str, what: &str| -> Result<()> {
            if self.shapes.contains_key(name) {
                Ok(())
            } else {
                bail!("{what} refers to unknown shape {name}")
            }
        };
        for (name, shape) in &self.shapes {
            match shape {
                Shape::List { member, .. } => exists(member, name)?,
                Shape::Map { key, value, .. } => {
                    exists(key, name)?;
                    exists(value, name)?;
                    if !matches!(self.shapes.get(key), Some(Shape::String { .. })) {
                        bail!("map {name}: keys must be strings");
                    }
                }
                Shape::Structure(s) => {
                    for m in &s.members {
                        exists(&m.shape, name)?;
                    }
                    if let Some(p) = &s.payload {
                        let member = s.members.iter().find(|m| &m.name == p);
                        let Some(member) = member else {
                            bail!("{name}: payload {p} is not a member")
                        };
                        if !matches!(self.shapes.get(&member.shape), Some(Shape::Blob)) {
                            bail!("{name}: only blob payloads are supported");
                        }
                    }
                    for m in &s.members {
                        if matches!(self.shapes.get(&m.shape), Some(Shape::Blob))
                            && s.payload.as_ref() != Some(&m.name)
                        {
                            bail!(
                                "{name}.{}: blob members are only supported as the payload",
                                m.name
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        for (name, op) in &self.operations {
            for shape in [&op.input, &op.output].into_iter().chain(&op.errors) {
                exists(shape, name)?;
                if !matches!(self.shapes.get(shape), Some(Shape::Structure(_))) {
                    bail!("{name}: {shape} is not a structure");
                }
            }
            for e in &op.errors {
                if self.structure(e).error.is_none() {
                    bail!("{name}: error {e} has no httpStatusCode");
                }
            }
            if op.uri.contains(['{', '?']) {
                bail!(
                    "{name}: URI labels and static query strings are not supported ({})",
                    op.uri
                );
            }
        }
        for name in self.paginators.keys() {
            if !self.operations.contains_key(name) {
                bail!("paginator for unknown operation {name}");
            }
        }
        Ok(())
    }
}

fn object<'v>(value: &'v Value, key: &str) -> Result<&'v serde_json::Map<String, Value>> {
    value
        .get(key)
        .and_then(Value::as_object)
        .with_context(|| format!("missing object `{key}`"))
}

fn string(value: &Value, key: &str) -> Result<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("missing string `{key}`"))
}

fn opt_string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn opt_u64(value: &Value, key: &str) -> Result<Option<u64>> {
    match value.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .with_context(|| format!("`{key}` must be a non-negative integer")),
    }
}

fn opt_i64(value: &Value, key: &str) -> Result<Option<i64>> {
    match value.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .with_context(|| format!("`{key}` must be an integer")),
    }
}

fn target(value: &Value, key: &str) -> Result<String> {
    value
        .get(key)
        .map_or_else(|| bail!("missing `{key}`"), |v| string(v, "shape"))
}

fn parse_shape(shape: &Value) -> Result<Shape> {
    let kind = string(shape, "type")?;
    Ok(match kind.as_str() {
        "string" => {
            let values = match shape.get("enum") {
                None => None,
                Some(values) => Some(
                    values
                        .as_array()
                        .context("`enum` must be an array")?
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .context("enum values must be strings")
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
            };
            Shape::String {
                min: opt_u64(shape, "min")?.filter(|m| *m > 0),
                max: opt_u64(shape, "max")?,
                pattern: opt_string(shape, "pattern"),
                values,
            }
        }
        "integer" => Shape::Integer {
            min: opt_i64(shape, "min")?,
            max: opt_i64(shape, "max")?,
        },
        "long" => Shape::Long {
            min: opt_i64(shape, "min")?,
            max: opt_i64(shape, "max")?,
        },
        "boolean" => Shape::Boolean,
        "timestamp" => Shape::Timestamp,
        "blob" => Shape::Blob,
        "list" => Shape::List {
            member: target(shape, "member")?,
            min: opt_u64(shape, "min")?.filter(|m| *m > 0),
            max: opt_u64(shape, "max")?,
        },
        "map" => Shape::Map {
            key: target(shape, "key")?,
            value: target(shape, "value")?,
            min: opt_u64(shape, "min")?.filter(|m| *m > 0),
            max: opt_u64(shape, "max")?,
        },
        "structure" => Shape::Structure(parse_structure(shape)?),
        other => bail!("unsupported shape type {other}"),
    })
}

fn parse_structure(shape: &Value) -> Result<Structure> {
    let mut members = Vec::new();
    for (name, member) in object(shape, "members")? {
        let location = match member.get("location").and_then(Value::as_str) {
            None => Location::Body,
            Some("querystring") => Location::Query,
            Some("header") => Location::Header,
            Some(other) => bail!("member {name}: unsupported location {other}"),
        };
        let location_name = match location {
            Location::Body => String::new(),
            _ => string(member, "locationName").with_context(|| format!("member {name}"))?,
        };
        members.push(Member {
            name: name.clone(),
            shape: string(member, "shape")?,
            location,
            location_name,
        });
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let required = match shape.get("required") {
        None => BTreeSet::new(),
        Some(r) => r
            .as_array()
            .context("`required` must be an array")?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .context("required names must be strings")
            })
            .collect::<Result<_>>()?,
    };
    for r in &required {
        if !members.iter().any(|m| &m.name == r) {
            bail!("required member {r} does not exist");
        }
    }
    let error = match shape.get("error") {
        None => None,
        Some(e) => {
            let status = e
                .get("httpStatusCode")
                .and_then(Value::as_u64)
                .context("error without httpStatusCode")?;
            Some(ErrorInfo {
                status: u16::try_from(status).context("httpStatusCode out of range")?,
                fault: shape.get("fault").and_then(Value::as_bool).unwrap_or(false),
            })
        }
    };
    Ok(Structure {
        members,
        required,
        payload: opt_string(shape, "payload"),
        error,
    })
}

fn parse_operation(op: &Value) -> Result<Operation> {
    let http = op.get("http").context("missing `http`")?;
    let errors = match op.get("errors") {
        None => Vec::new(),
        Some(e) => e
            .as_array()
            .context("`errors` must be an array")?
            .iter()
            .map(|e| string(e, "shape"))
            .collect::<Result<_>>()?,
    };
    Ok(Operation {
        method: string(http, "method")?,
        uri: string(http, "requestUri")?,
        input: target(op, "input")?,
        output: target(op, "output")?,
        errors,
    })
}

fn parse_paginator(p: &Value) -> Result<Paginator> {
    let result_key = match p.get("result_key") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_owned)
                    .context("result keys must be strings")
            })
            .collect::<Result<_>>()?,
        _ => bail!("missing `result_key`"),
    };
    let single = |key: &str| -> Result<String> {
        match p.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => bail!("`{key}` must be a single string"),
        }
    };
    Ok(Paginator {
        input_token: single("input_token")?,
        output_token: single("output_token")?,
        limit_key: opt_string(p, "limit_key"),
        result_key,
    })
}
