//! The body of `npm publish`, read as it arrives. It is one JSON document whose
//! `_attachments.<file>.data` strings hold the tarballs, base64-encoded: [`PublishReader`] copies
//! the document into a bounded *skeleton* except those strings, whose content it decodes as it
//! streams by and hands out, and which the skeleton keeps as `""`. The skeleton is then parsed
//! with [`parse_publish`](super::parse_publish).
//!
//! The reader is not a JSON validator: it follows the document's structure only as far as it
//! needs to find those strings, and leaves every other judgement to the parse of the skeleton.

use super::NpmError;
use super::publish::BASE64;
use base64::Engine as _;

/// The largest skeleton (the document without its attachments' content). A metadata-only PUT
/// (deprecate, unpublish) sends the whole packument back, so this is well above a publish's few
/// kilobytes.
pub const MAX_SKELETON_BYTES: usize = 32 * 1024 * 1024;
/// The most attachments one body may carry (npm sends one).
pub const MAX_ATTACHMENTS: usize = 4;
/// Deeper nesting is refused (serde_json refuses past 128 anyway).
const MAX_DEPTH: usize = 256;
/// Whitespace and escapes tolerated in an attachment's data besides one in eight characters
/// (line-wrapped base64 has one line break per 76 characters).
const FILLER_ALLOWANCE: u64 = 64 * 1024;

/// What [`PublishReader::feed`] stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Everything given was consumed: feed more, or [`PublishReader::finish`] at the end.
    NeedInput,
    /// An attachment's content begins: the bytes decoded from here on are its own. Its name is
    /// the key under `_attachments` (npm sends `"<full name>-<version>.tgz"`).
    Attachment(String),
    /// The current attachment's content ended; its last bytes are in the output.
    AttachmentEnd,
}

/// A streaming reader of an `npm publish` body; see the module documentation.
#[derive(Debug)]
pub struct PublishReader {
    skeleton: Vec<u8>,
    max_skeleton: usize,
    max_attachments: usize,
    frames: Vec<Frame>,
    lexer: Lexer,
    /// Names of the attachments streamed so far, in order.
    names: Vec<String>,
    /// The attachment being streamed.
    data: Option<Data>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lexer {
    /// Between tokens, or inside a number or literal (copied as they come).
    Between,
    /// Inside a string copied to the skeleton: a key when `key`, a value otherwise.
    String { escaped: bool, key: bool },
    /// Inside an attachment's `data` string.
    Data,
}

/// One open object or array.
#[derive(Debug)]
struct Frame {
    role: Role,
    object: bool,
    /// In an object, whether the next string is a key.
    expect_key: bool,
    /// Where the key being read starts in the skeleton (its opening quote), when `role` cares.
    key_start: Option<usize>,
    /// The last key read, decoded, when `role` cares.
    key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// The document.
    Root,
    /// The document's `_attachments`.
    Attachments,
    /// `_attachments.<name>`.
    Attachment(String),
    /// Anything else.
    Other,
}

/// An attachment's `data` string being decoded.
#[derive(Debug)]
struct Data {
    name: String,
    base64: Base64Decoder,
    escape: Option<Escape>,
    /// Base64 characters and filler (whitespace, escapes) seen.
    characters: u64,
    filler: u64,
}

#[derive(Debug, Clone, Copy)]
enum Escape {
    /// After a backslash.
    Started,
    /// In `\uXXXX`, after `digits` hex digits making `value`.
    Unicode { value: u32, digits: u8 },
}

impl Default for PublishReader {
    fn default() -> Self {
        Self::new(MAX_SKELETON_BYTES, MAX_ATTACHMENTS)
    }
}

impl PublishReader {
    /// A reader keeping at most `max_skeleton` bytes of document and streaming at most
    /// `max_attachments` attachments.
    #[must_use]
    pub fn new(max_skeleton: usize, max_attachments: usize) -> Self {
        Self {
            skeleton: Vec::new(),
            max_skeleton,
            max_attachments,
            frames: Vec::new(),
            lexer: Lexer::Between,
            names: Vec::new(),
            data: None,
        }
    }

    /// Reads from `input` up to the next [`Step`], appending the bytes decoded from an
    /// attachment's data to `out`. Returns how many bytes of `input` it consumed: all of them
    /// with [`Step::NeedInput`], otherwise those up to the event (feed the rest again).
    ///
    /// # Errors
    /// [`NpmError::TooLarge`] past the skeleton bound; [`NpmError::InvalidDocument`] for data
    /// that is not base64, too many or repeated attachments, or too deep a document. The reader
    /// is not to be fed again after an error.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, Step), NpmError> {
        let mut at = 0;
        while at < input.len() {
            match self.lexer {
                Lexer::Data => {
                    let (used, ended) = self.data_bytes(&input[at..], out)?;
                    at += used;
                    if ended {
                        return Ok((at, Step::AttachmentEnd));
                    }
                }
                Lexer::String { escaped, key } => {
                    let rest = &input[at..];
                    let used = if escaped {
                        self.lexer = Lexer::String {
                            escaped: false,
                            key,
                        };
                        1
                    } else {
                        match rest.iter().position(|&b| b == b'"' || b == b'\\') {
                            None => rest.len(),
                            Some(i) if rest[i] == b'\\' => {
                                self.lexer = Lexer::String { escaped: true, key };
                                i + 1
                            }
                            Some(i) => {
                                self.lexer = Lexer::Between;
                                i + 1
                            }
                        }
                    };
                    self.keep(&rest[..used])?;
                    at += used;
                    if self.lexer == Lexer::Between && key {
                        self.key_read();
                    }
                }
                Lexer::Between => {
                    let byte = input[at];
                    at += 1;
                    if let Some(name) = self.structure(byte)? {
                        return Ok((at, Step::Attachment(name)));
                    }
                }
            }
        }
        Ok((at, Step::NeedInput))
    }

    /// The skeleton, once the whole body was fed.
    ///
    /// # Errors
    /// [`NpmError::InvalidDocument`] when the body ended inside an attachment's data.
    pub fn finish(self) -> Result<Vec<u8>, NpmError> {
        if let Some(data) = self.data {
            return Err(NpmError::InvalidDocument(format!(
                "not JSON: the body ends inside attachment {:?}",
                data.name
            )));
        }
        Ok(self.skeleton)
    }

    /// The names of the attachments streamed so far, in order.
    #[must_use]
    pub fn attachments(&self) -> &[String] {
        &self.names
    }

    fn keep(&mut self, bytes: &[u8]) -> Result<(), NpmError> {
        if self.skeleton.len() + bytes.len() > self.max_skeleton {
            return Err(NpmError::TooLarge(format!(
                "the publish document without its attachments exceeds {} bytes",
                self.max_skeleton
            )));
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    /// One byte between tokens. Returns the attachment whose data string it opened, if any.
    fn structure(&mut self, byte: u8) -> Result<Option<String>, NpmError> {
        self.keep(&[byte])?;
        match byte {
            b'"' => return self.string_opened(),
            b'{' | b'[' => {
                if self.frames.len() >= MAX_DEPTH {
                    return Err(NpmError::InvalidDocument("nested too deeply".into()));
                }
                let role = if byte == b'{' {
                    self.role_of_new_object()
                } else {
                    Role::Other
                };
                self.frames.push(Frame {
                    role,
                    object: byte == b'{',
                    expect_key: byte == b'{',
                    key_start: None,
                    key: None,
                });
            }
            b'}' | b']' => {
                self.frames.pop();
            }
            b',' => {
                if let Some(frame) = self.frames.last_mut().filter(|f| f.object) {
                    frame.expect_key = true;
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// The role of an object opened at the current position.
    fn role_of_new_object(&self) -> Role {
        let Some(parent) = self.frames.last() else {
            return Role::Root;
        };
        if !parent.object {
            return Role::Other;
        }
        match (&parent.role, parent.key.as_deref()) {
            (Role::Root, Some("_attachments")) => Role::Attachments,
            (Role::Attachments, Some(name)) => Role::Attachment(name.to_owned()),
            _ => Role::Other,
        }
    }

    /// A `"` between tokens (already kept): a key, an attachment's data, or another value.
    fn string_opened(&mut self) -> Result<Option<String>, NpmError> {
        let start = self.skeleton.len() - 1;
        let Some(frame) = self.frames.last_mut().filter(|f| f.object) else {
            self.lexer = Lexer::String {
                escaped: false,
                key: false,
            };
            return Ok(None);
        };
        if frame.expect_key {
            frame.key_start = (frame.role != Role::Other).then_some(start);
            self.lexer = Lexer::String {
                escaped: false,
                key: true,
            };
            return Ok(None);
        }
        let Role::Attachment(name) = &frame.role else {
            self.lexer = Lexer::String {
                escaped: false,
                key: false,
            };
            return Ok(None);
        };
        if frame.key.as_deref() != Some("data") {
            self.lexer = Lexer::String {
                escaped: false,
                key: false,
            };
            return Ok(None);
        }
        let name = name.clone();
        if self.names.contains(&name) {
            return Err(NpmError::InvalidDocument(format!(
                "attachment {name:?} appears twice"
            )));
        }
        if self.names.len() >= self.max_attachments {
            return Err(NpmError::InvalidDocument(format!(
                "more than {} attachments",
                self.max_attachments
            )));
        }
        self.names.push(name.clone());
        self.data = Some(Data {
            name: name.clone(),
            base64: Base64Decoder::default(),
            escape: None,
            characters: 0,
            filler: 0,
        });
        self.lexer = Lexer::Data;
        Ok(Some(name))
    }

    /// A key string was closed: decode it when its object's role depends on it.
    fn key_read(&mut self) {
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        frame.expect_key = false;
        frame.key = frame
            .key_start
            .take()
            .and_then(|start| serde_json::from_slice::<String>(&self.skeleton[start..]).ok());
    }

    /// Bytes inside an attachment's data string. Returns how many it consumed and whether the
    /// string ended (its closing quote consumed and kept).
    fn data_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), NpmError> {
        let Some(data) = self.data.as_mut() else {
            self.lexer = Lexer::Between;
            return Ok((0, false));
        };
        let mut at = 0;
        while at < input.len() {
            if let Some(escape) = data.escape {
                data.escape = data.escaped(escape, input[at], out)?;
                at += 1;
                continue;
            }
            let rest = &input[at..];
            let end = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .unwrap_or(rest.len());
            data.characters(&rest[..end], out)?;
            at += end;
            match rest.get(end) {
                Some(b'\\') => {
                    data.escape = Some(Escape::Started);
                    at += 1;
                }
                Some(_) => {
                    data.base64
                        .finish(out)
                        .map_err(|why| data.not_base64(&why))?;
                    self.data = None;
                    self.lexer = Lexer::Between;
                    self.keep(b"\"")?;
                    return Ok((at + 1, true));
                }
                None => {}
            }
        }
        Ok((at, false))
    }
}

impl Data {
    fn not_base64(&self, why: &str) -> NpmError {
        NpmError::InvalidDocument(format!(
            "attachment {:?}: data is not base64: {why}",
            self.name
        ))
    }

    /// Raw characters of the string (no quote, no backslash): base64, and spaces between.
    fn characters(&mut self, run: &[u8], out: &mut Vec<u8>) -> Result<(), NpmError> {
        for piece in run.split(|&b| b == b' ') {
            self.base64
                .push(piece, out)
                .map_err(|why| self.not_base64(&why))?;
        }
        let spaces = run.iter().filter(|&&b| b == b' ').count() as u64;
        self.counted(run.len() as u64 - spaces, spaces)
    }

    fn counted(&mut self, characters: u64, filler: u64) -> Result<(), NpmError> {
        self.characters += characters;
        self.filler += filler;
        if self.filler > FILLER_ALLOWANCE + self.characters / 8 {
            return Err(self.not_base64("too much whitespace"));
        }
        Ok(())
    }

    /// One byte of an escape sequence: `\/` and `\uXXXX` may spell base64 characters, `\n`,
    /// `\r`, `\t`, `\f` and `\u` of whitespace are skipped, anything else is not base64.
    fn escaped(
        &mut self,
        escape: Escape,
        byte: u8,
        out: &mut Vec<u8>,
    ) -> Result<Option<Escape>, NpmError> {
        let (character, length) = match (escape, byte) {
            (Escape::Started, b'u') => {
                return Ok(Some(Escape::Unicode {
                    value: 0,
                    digits: 0,
                }));
            }
            (Escape::Started, b'/') => (b'/', 2),
            (Escape::Started, b'n' | b'r' | b't' | b'f') => (b' ', 2),
            (Escape::Started, other) => {
                return Err(self.not_base64(&format!(
                    "the escape \\{} is not a base64 character",
                    char::from(other).escape_default()
                )));
            }
            (Escape::Unicode { value, digits }, _) => {
                let digit = char::from(byte).to_digit(16).ok_or_else(|| {
                    NpmError::InvalidDocument("not JSON: a bad \\u escape".into())
                })?;
                let value = value * 16 + digit;
                if digits < 3 {
                    return Ok(Some(Escape::Unicode {
                        value,
                        digits: digits + 1,
                    }));
                }
                match u8::try_from(value) {
                    Ok(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=') => (c, 6),
                    Ok(c) if c.is_ascii_whitespace() => (b' ', 6),
                    _ => {
                        return Err(self.not_base64(&format!(
                            "the escape \\u{value:04x} is not a base64 character"
                        )));
                    }
                }
            }
        };
        if character == b' ' {
            self.counted(0, length)?;
        } else {
            self.base64
                .push(&[character], out)
                .map_err(|why| self.not_base64(&why))?;
            self.counted(1, length - 1)?;
        }
        Ok(None)
    }
}

/// Base64 decoded group by group as characters arrive, with the engine that decodes a whole
/// string (standard alphabet, padding optional): the same input gives the same bytes and the
/// same refusals however it is split.
#[derive(Debug, Default)]
struct Base64Decoder {
    pending: [u8; 4],
    len: usize,
    /// A group with padding was decoded: nothing may follow.
    padded: bool,
}

impl Base64Decoder {
    /// Decodes the complete groups `chars` completes (no whitespace in `chars`).
    fn push(&mut self, mut chars: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if chars.is_empty() {
            return Ok(());
        }
        if self.padded {
            return Err("characters after the padding".into());
        }
        if self.len > 0 {
            let take = (4 - self.len).min(chars.len());
            self.pending[self.len..self.len + take].copy_from_slice(&chars[..take]);
            self.len += take;
            chars = &chars[take..];
            if self.len < 4 {
                return Ok(());
            }
            self.len = 0;
            let group = self.pending;
            self.decode(&group, out)?;
        }
        if !chars.is_empty() && self.padded {
            return Err("characters after the padding".into());
        }
        let whole = chars.len() / 4 * 4;
        self.decode(&chars[..whole], out)?;
        let rest = &chars[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
        Ok(())
    }

    /// The last, unpadded group (two or three characters), if any.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let (group, len) = (self.pending, self.len);
        self.len = 0;
        self.decode(&group[..len], out)
    }

    fn decode(&mut self, chars: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if chars.is_empty() {
            return Ok(());
        }
        let start = out.len();
        out.resize(start + chars.len().div_ceil(4) * 3, 0);
        match BASE64.decode_slice(chars, &mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                self.padded = chars.last() == Some(&b'=');
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.to_string())
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Value, json};

    /// A body's skeleton, and each attachment's name and content.
    pub(in crate::npm) type Split = (Vec<u8>, Vec<(String, Vec<u8>)>);

    /// A whole body through a reader, fed in pieces whose sizes cycle through `sizes`: the
    /// skeleton and each attachment's name and content.
    pub(in crate::npm) fn read_in(
        body: &[u8],
        sizes: &[usize],
        reader: PublishReader,
    ) -> Result<Split, NpmError> {
        let mut reader = reader;
        let mut attachments: Vec<(String, Vec<u8>)> = Vec::new();
        let mut open = false;
        let mut out = Vec::new();
        let (mut at, mut turn) = (0, 0);
        while at < body.len() {
            let end = (at + sizes[turn % sizes.len()].max(1)).min(body.len());
            turn += 1;
            let mut chunk = &body[at..end];
            at = end;
            while !chunk.is_empty() {
                let (used, step) = reader.feed(chunk, &mut out)?;
                chunk = &chunk[used..];
                if let Some((_, content)) = attachments.last_mut().filter(|_| open) {
                    content.append(&mut out);
                }
                assert!(out.is_empty(), "bytes decoded outside an attachment");
                match step {
                    Step::NeedInput => assert!(chunk.is_empty()),
                    Step::Attachment(name) => {
                        assert!(!open);
                        open = true;
                        attachments.push((name, Vec::new()));
                    }
                    Step::AttachmentEnd => {
                        assert!(open);
                        open = false;
                    }
                }
            }
        }
        let names: Vec<String> = attachments.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(reader.attachments(), names.as_slice());
        Ok((reader.finish()?, attachments))
    }

    /// The chunkings every case is read with.
    const CHUNKINGS: &[&[usize]] = &[&[usize::MAX], &[1], &[2, 3], &[5, 1, 7], &[4096], &[64, 1]];

    /// Reads `body` with every chunking, checks they agree, returns the outcome.
    pub(in crate::npm) fn read(body: &[u8]) -> Result<Split, NpmError> {
        let first = read_in(body, CHUNKINGS[0], PublishReader::default());
        for sizes in &CHUNKINGS[1..] {
            let other = read_in(body, sizes, PublishReader::default());
            assert_eq!(
                other,
                first,
                "chunking {sizes:?} of {}",
                String::from_utf8_lossy(body)
            );
        }
        first
    }

    fn skeleton_json(skeleton: &[u8]) -> Value {
        serde_json::from_slice(skeleton).expect("the skeleton is JSON")
    }

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 3) as u8).collect()
    }

    #[test]
    fn attachments_are_streamed_out_and_blanked_in_the_skeleton() {
        for n in [0, 1, 2, 3, 4, 5, 100, 3000] {
            let tarball = content(n);
            let body = json!({
                "_id": "demo", "name": "demo",
                "versions": {"1.0.0": {"name": "demo", "data": "not an attachment",
                                       "_attachments": {"x": {"data": "QQ=="}}}},
                "_attachments": {"demo-1.0.0.tgz": {
                    "content_type": "application/octet-stream",
                    "data": STANDARD.encode(&tarball),
                    "length": n,
                }},
            });
            let (skeleton, attachments) = read(body.to_string().as_bytes()).expect("reads");
            assert_eq!(attachments, [("demo-1.0.0.tgz".to_owned(), tarball)]);
            let mut expected = body.clone();
            expected["_attachments"]["demo-1.0.0.tgz"]["data"] = json!("");
            assert_eq!(skeleton_json(&skeleton), expected, "{n}");
        }
    }

    #[test]
    fn pretty_printed_and_escaped_bodies_read_alike() {
        let tarball = content(1000);
        let encoded = STANDARD.encode(&tarball);
        let body = json!({
            "name": "@acme/demo",
            "description": "quotes \" and \\ and \u{e9} and {braces} [brackets], \"data\": \"x\"",
            "_attachments": {"@acme/demo-1.0.0.tgz": {"data": encoded, "length": 1000}},
            "readme": "after",
        });
        let pretty = serde_json::to_vec_pretty(&body).expect("json");
        let (skeleton, attachments) = read(&pretty).expect("reads");
        assert_eq!(
            attachments,
            [("@acme/demo-1.0.0.tgz".to_owned(), tarball.clone())]
        );
        let parsed = skeleton_json(&skeleton);
        assert_eq!(parsed["readme"], "after");
        assert_eq!(parsed["description"], body["description"]);

        // Keys spelled with escapes name the same fields; `\/`, `\u` of base64 characters and
        // escaped line breaks inside the data decode as npm's plain base64 would.
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| String::from_utf8_lossy(line).replace('/', "\\/"))
            .collect::<Vec<_>>()
            .join("\\n");
        let wrapped = wrapped.replacen('A', "\\u0041", 3);
        let body = format!(
            r#"{{"name":"@acme/demo","_attachments":{{"@acme\/demo-1.0.0.tgz":{{"d\u0061ta":"{wrapped} ","length":1000}}}}}}"#
        );
        let (skeleton, attachments) = read(body.as_bytes()).expect("reads");
        assert_eq!(attachments, [("@acme/demo-1.0.0.tgz".to_owned(), tarball)]);
        assert_eq!(
            skeleton_json(&skeleton)["_attachments"]["@acme/demo-1.0.0.tgz"]["data"],
            ""
        );
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let tarball = content(301);
        let body = json!({"name": "a", "_attachments": {"a-1.tgz": {
            "data": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&tarball)}}});
        let (_, attachments) = read(body.to_string().as_bytes()).expect("reads");
        assert_eq!(attachments[0].1, tarball);
    }

    #[test]
    fn several_attachments_stream_in_order() {
        let body = json!({"name": "a", "_attachments": {
            "a-1.tgz": {"data": STANDARD.encode(b"one")},
            "a-2.tgz": {"length": 3, "data": STANDARD.encode(b"two!")},
            "a-3.tgz": {"data": ""},
        }});
        let (skeleton, attachments) = read(body.to_string().as_bytes()).expect("reads");
        assert_eq!(
            attachments,
            [
                ("a-1.tgz".to_owned(), b"one".to_vec()),
                ("a-2.tgz".to_owned(), b"two!".to_vec()),
                ("a-3.tgz".to_owned(), Vec::new()),
            ]
        );
        assert_eq!(
            skeleton_json(&skeleton)["_attachments"]["a-2.tgz"]["length"],
            3
        );
    }

    #[test]
    fn attachments_without_a_data_string_are_left_to_the_parse() {
        for attachment in [
            json!({"length": 3}),
            json!({"data": 12}),
            json!({"data": null}),
            json!({"data": ["QQ=="]}),
            json!({"data": {"data": "QQ=="}}),
            json!("QQ=="),
        ] {
            let body = json!({"name": "a", "_attachments": {"a-1.tgz": attachment}});
            let (skeleton, attachments) = read(body.to_string().as_bytes()).expect("reads");
            assert!(attachments.is_empty(), "{body}");
            assert_eq!(skeleton_json(&skeleton), body);
        }
        // `_attachments` only counts at the top of the document.
        let body = json!({"name": "a", "x": {"_attachments": {"a-1.tgz": {"data": "QQ=="}}},
                          "list": [{"_attachments": {"a-1.tgz": {"data": "QQ=="}}}]});
        let (skeleton, attachments) = read(body.to_string().as_bytes()).expect("reads");
        assert!(attachments.is_empty());
        assert_eq!(skeleton_json(&skeleton), body);
    }

    #[test]
    fn bad_data_is_refused() {
        let cases = [
            r#""@@@@""#,
            r#""QQ==QQ==""#,
            r#""Q""#,
            r#""QUJD\"""#,
            r#""QUJD\\""#,
            r#""QU\bJD""#,
            r#""QU\u00e9JD""#,
            r#""QU\u0022JD""#,
            r#""QU\uzzzzJD""#,
            "\"QU\u{e9}JD\"",
            "\"QU\tJD\"",
        ];
        for data in cases {
            let body = format!(r#"{{"name":"a","_attachments":{{"a-1.tgz":{{"data":{data}}}}}}}"#);
            for sizes in CHUNKINGS {
                let err =
                    read_in(body.as_bytes(), sizes, PublishReader::default()).expect_err(&body);
                assert!(
                    matches!(&err, NpmError::InvalidDocument(m) if m.contains("a-1.tgz") || m.contains("JSON")),
                    "{body}: {err:?}"
                );
            }
        }
        let spaces = format!(
            r#"{{"name":"a","_attachments":{{"a-1.tgz":{{"data":"QQ{}==""#,
            " ".repeat(FILLER_ALLOWANCE as usize + 10)
        );
        assert!(read(spaces.as_bytes()).is_err());
    }

    #[test]
    fn a_body_ending_inside_the_data_is_refused() {
        let body = br#"{"name":"a","_attachments":{"a-1.tgz":{"data":"QUJD"#;
        assert!(matches!(read(body), Err(NpmError::InvalidDocument(_))));
        // ... anywhere else, the skeleton's parse refuses it.
        let body = br#"{"name":"a","_attachments":{"a-1.tgz":{"data":"QUJD"}"#;
        let (skeleton, _) = read(body).expect("reads");
        assert!(serde_json::from_slice::<Value>(&skeleton).is_err());
    }

    #[test]
    fn repeated_and_surplus_attachments_are_refused() {
        let twice = br#"{"name":"a","_attachments":{"a-1.tgz":{"data":"QQ==","data":"QQ=="}}}"#;
        assert!(matches!(read(twice), Err(NpmError::InvalidDocument(m)) if m.contains("twice")));
        let again =
            br#"{"_attachments":{"a-1.tgz":{"data":""}},"_attachments":{"a-1.tgz":{"data":""}}}"#;
        assert!(matches!(read(again), Err(NpmError::InvalidDocument(m)) if m.contains("twice")));
        let files: serde_json::Map<String, Value> = (0..=MAX_ATTACHMENTS)
            .map(|i| (format!("a-{i}.tgz"), json!({"data": "QQ=="})))
            .collect();
        let many = json!({"name": "a", "_attachments": files}).to_string();
        assert!(
            matches!(read(many.as_bytes()), Err(NpmError::InvalidDocument(m)) if m.contains("more than"))
        );
    }

    #[test]
    fn the_skeleton_is_bounded_but_attachments_are_not() {
        let big = STANDARD.encode(content(10_000));
        let body = json!({"name": "a", "readme": "r".repeat(500),
                          "_attachments": {"a-1.tgz": {"data": big}}})
        .to_string();
        for sizes in CHUNKINGS {
            let small = PublishReader::new(600, MAX_ATTACHMENTS);
            assert!(read_in(body.as_bytes(), sizes, small).is_ok());
            let smaller = PublishReader::new(500, MAX_ATTACHMENTS);
            let err = read_in(body.as_bytes(), sizes, smaller).expect_err("too large");
            assert!(matches!(err, NpmError::TooLarge(_)), "{err:?}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            read(deep.as_bytes()),
            Err(NpmError::InvalidDocument(_))
        ));
    }

    #[test]
    fn split_groups_decode_like_whole_strings() {
        for text in [
            "QUJD", "QUI=", "QQ==", "QQ=", "QUJDRA==", "QUJDREU", "QUJDREVG",
        ] {
            for cut in 0..=text.len() {
                let mut decoder = Base64Decoder::default();
                let mut out = Vec::new();
                decoder
                    .push(&text.as_bytes()[..cut], &mut out)
                    .expect("push");
                decoder
                    .push(&text.as_bytes()[cut..], &mut out)
                    .expect("push");
                decoder.finish(&mut out).expect("finish");
                assert_eq!(
                    out,
                    BASE64.decode(text).expect("base64"),
                    "{text} cut at {cut}"
                );
            }
        }
    }
}
