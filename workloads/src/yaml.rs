//! Reading user YAML (job files, and through the harness: plans, scenarios, the
//! configuration): the parser's failures said in nfslab's words, with the field path.
//!
//! serde-saphyr reports failures as data ([`serde_saphyr::Error`] variants: an unknown
//! field with the expected ones, a missing field, a duplicate key, a budget breach...).
//! [`translate_in`] matches those variants, never the text the library renders, and turns each
//! into a [`YamlError`]: `line:column`, the field path (`timeouts.bind`, `steps[2].wait`),
//! what is wrong and what to write instead. The path comes from `serde_path_to_error`,
//! which follows the deserializer through the document.
//!
//! Limits are explicit ([`MAX_BYTES`], [`MAX_DEPTH`], [`MAX_NODES`]) so a breach can name
//! them; invalid UTF-8 is reported at the line and column of the first bad byte
//! ([`text_of`]).

use std::fmt;

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;

/// Largest YAML file read, in bytes.
pub(crate) const MAX_BYTES: usize = 4 << 20;
/// Deepest nesting of mappings and sequences.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most values (mappings, sequences and scalars) in one document.
pub(crate) const MAX_NODES: usize = 250_000;
/// Most documents in one stream (multi-document manifest files).
pub(crate) const MAX_DOCUMENTS: usize = 1_000;

/// One YAML failure in nfslab's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
    /// The field path (`timeouts.bind`, `steps[2].wait.timeout`); `None` at the top.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: Option<String>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(path) = &self.path {
            write!(f, "field `{path}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl YamlError {
    /// The message and hint without the position and path (for callers that print those
    /// themselves).
    #[must_use]
    pub fn what(&self) -> String {
        match &self.hint {
            Some(h) => format!("{} (hint: {h})", self.message),
            None => self.message.clone(),
        }
    }
}

impl YamlError {
    /// The error at its place in `file`: `plan.yaml:7:14: field `runtime`: ...`, the one
    /// form every file nfslab reads reports a parse failure in.
    #[must_use]
    pub fn in_file(&self, file: &str) -> ParseError {
        ParseError {
            at: At {
                file: file.to_owned(),
                line: self.line,
                column: self.column,
            },
            message: match &self.path {
                Some(field) => format!("field `{field}`: {}", self.what()),
                None => self.what(),
            },
        }
    }
}

/// A place in a file the user wrote, shown `file:line:column` (line and column 1-based, 0
/// when unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct At {
    /// The file as named to the user.
    pub file: String,
    /// Line, 1-based (0: unknown).
    pub line: u64,
    /// Column, 1-based (0: unknown).
    pub column: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A file that does not parse (YAML syntax, an unknown field, a value of the wrong type),
/// at its place, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ParseError {
    /// Where.
    pub at: At,
    /// What is wrong, with the field path and a hint when there is one.
    pub message: String,
}

/// The parser options nfslab reads user YAML with: no source snippets (positions are
/// reported as `file:line:column`), duplicate keys refused, and the limits of this module.
#[must_use]
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_documents: MAX_DOCUMENTS,
        },
    }
}

/// The text of a file's bytes; invalid UTF-8 is an error at the first bad byte's line and
/// column, with a hint about the encoding; a file over `MAX_BYTES` (4 MiB) is refused.
///
/// # Errors
/// [`YamlError`] for a file too large or not UTF-8.
pub fn text_of(bytes: &[u8]) -> Result<&str, YamlError> {
    if bytes.len() > MAX_BYTES {
        return Err(YamlError {
            line: 1,
            column: 1,
            path: None,
            message: format!(
                "the file is {} bytes; nfslab reads YAML files of at most {} MiB",
                bytes.len(),
                MAX_BYTES >> 20
            ),
            hint: Some("split it, or check that this is the file you meant".to_owned()),
        });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        YamlError {
            line: line as u64,
            column: column as u64,
            path: None,
            message: format!(
                "byte 0x{:02x} is not UTF-8 text",
                bytes.get(e.valid_up_to()).copied().unwrap_or_default()
            ),
            hint: Some(
                "save the file as UTF-8 (it may be Latin-1 or UTF-16; e.g. `iconv -f latin1 \
                 -t utf-8`)"
                    .to_owned(),
            ),
        }
    })
}

/// Reads one document into `T`, with the field path of any failure.
///
/// # Errors
/// [`YamlError`] for every parser or type failure.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    from_str_with(text, options())
}

/// [`from_str`] with other parser options (a budget of its own, snippets...).
///
/// # Errors
/// As [`from_str`].
pub(crate) fn from_str_with<T: DeserializeOwned>(
    text: &str,
    options: serde_saphyr::Options,
) -> Result<T, YamlError> {
    if text.len() > MAX_BYTES {
        return Err(text_of(text.as_bytes()).err().unwrap_or_else(|| YamlError {
            line: 1,
            column: 1,
            path: None,
            message: "the file is too large".to_owned(),
            hint: None,
        }));
    }
    let mut track = serde_path_to_error::Track::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    });
    result.map_err(|e| translate_in(&e, path_text(&track.path()), Some(text)))
}

/// A path as users write it (`steps[2].wait`), `None` at the top.
fn path_text(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut previous_was_value = false;
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                previous_was_value = false;
                out.push_str(&format!("[{index}]"));
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                // serde-saphyr's `Spanned` wrapper reads its value through an internal
                // `value` key: one such segment is the wrapper, a second one a real key.
                if key.starts_with("__") || (key == "value" && !previous_was_value) {
                    previous_was_value = key == "value";
                    continue;
                }
                previous_was_value = false;
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The closest of `known` to `given`, when close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(given, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The words serde uses for a Rust type, as users know them, with the range.
fn scalar_words(ty: &str) -> String {
    match ty {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" | "usize" | "u128" => "a whole number, not negative".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "i128" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "bool" => "`true` or `false`".to_owned(),
        "char" => "a single character".to_owned(),
        other => format!("a value of type {other}"),
    }
}

/// serde's names of what it found or expected (`map`, `string "x"`, `integer `5``) said as
/// users write them.
#[must_use]
pub(crate) fn yaml_words(serde_text: &str) -> String {
    let strip = |prefix: &str| serde_text.strip_prefix(prefix);
    if let Some(text) = strip("string ") {
        return format!("the text `{}`", text.trim_matches('"'));
    }
    for prefix in ["integer ", "floating point "] {
        if let Some(number) = strip(prefix) {
            return format!("the number {number}");
        }
    }
    if let Some(b) = strip("boolean ") {
        return format!("the value {b}");
    }
    match serde_text {
        "map" | "a map" => "a mapping (`key: value` lines)".to_owned(),
        "sequence" | "a sequence" => "a list (`- item` lines)".to_owned(),
        "unit value" | "null" => "an empty value".to_owned(),
        "a string" => "text".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
            scalar_words(serde_text)
        }
        other => other.to_owned(),
    }
}

/// serde's standard messages (`invalid type: A, expected B`, `invalid value: ...`) said in
/// nfslab's words; other messages are kept.
#[must_use]
pub fn serde_words(message: &str) -> String {
    for (prefix, template) in [
        ("invalid type: ", "found {a} where {b} belongs"),
        ("invalid value: ", "{a} is not {b}"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((a, b)) = rest.rsplit_once(", expected ")
        {
            return template
                .replace("{a}", &yaml_words(a))
                .replace("{b}", &yaml_words(b));
        }
    }
    message.to_owned()
}

/// What the YAML at `line`:`column` of `text` starts: a mapping, a list or a single value.
fn found_at(text: &str, line: u64, column: u64) -> Option<&'static str> {
    let l = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let rest: String = l
        .chars()
        .skip(usize::try_from(column).ok()?.saturating_sub(1))
        .collect();
    let rest = rest.trim_start();
    Some(if rest.starts_with('{') {
        "a mapping"
    } else if rest.starts_with('[') || rest.starts_with("- ") || rest == "-" {
        "a list"
    } else if rest
        .split_once(':')
        .is_some_and(|(k, v)| !k.contains(' ') && (v.is_empty() || v.starts_with(' ')))
    {
        "a mapping"
    } else {
        "a single value"
    })
}

/// One serde-saphyr error in nfslab's words: `path` is where in the document it happened,
/// `source` the document's text (to say what was found where something else belongs).
#[must_use]
pub(crate) fn translate_in(
    error: &serde_saphyr::Error,
    path: Option<String>,
    source: Option<&str>,
) -> YamlError {
    let error = error.without_snippet();
    if let serde_saphyr::Error::AliasError { error, .. } = error {
        return translate_in(error, path, source);
    }
    let (line, column) = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    let words = schema_words(error, path.as_deref())
        .unwrap_or_else(|| document_words(error, source, line, column));
    YamlError {
        line,
        column,
        path: if words.with_path { path } else { None },
        message: words.message,
        hint: words.hint,
    }
}

/// What one error says: the message, a hint, and whether the field path still helps.
struct Words {
    message: String,
    hint: Option<String>,
    with_path: bool,
}

impl Words {
    /// `message` and `hint`, after the field path.
    fn at(message: String, hint: Option<String>) -> Words {
        Words {
            message,
            hint,
            with_path: true,
        }
    }

    /// The same words, without the field path (it says nothing more, or nothing useful).
    fn without_path(self) -> Words {
        Words {
            with_path: false,
            ..self
        }
    }
}

/// `items` in backticks, separated by commas.
fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors about the document's content against the type it is read into (serde's data
/// model: unknown, missing or mistyped fields and values, enum tags); `None` for the
/// others.
fn schema_words(error: &serde_saphyr::Error, path: Option<&str>) -> Option<Words> {
    use serde_saphyr::Error as E;
    Some(match error {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            // The path ends at the unknown key itself.
            let hint = match did_you_mean(field, expected.iter().copied()) {
                Some(close) => format!(
                    "did you mean `{close}`? known fields: {}",
                    backticked(expected)
                ),
                None if expected.is_empty() => "remove it".to_owned(),
                None => format!("remove it; known fields: {}", backticked(expected)),
            };
            let words = Words::at(format!("unknown field `{field}`"), Some(hint));
            // At the top level the path is the unknown key itself: say it once.
            if path == Some(field.as_str()) {
                words.without_path()
            } else {
                words
            }
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let hint = match did_you_mean(variant, expected.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? one of {}", backticked(expected)),
                None => format!("one of {}", backticked(expected)),
            };
            Words::at(format!("unknown value `{variant}`"), Some(hint))
        }
        E::SerdeMissingField { field, .. } => Words::at(
            format!("missing field `{field}`"),
            Some(format!("add `{field}:` here")),
        ),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => Words::at(
            format!(
                "found {} where {} belongs",
                yaml_words(unexpected),
                yaml_words(expected)
            ),
            None,
        ),
        E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Words::at(
            format!("{} is not {}", yaml_words(unexpected), yaml_words(expected)),
            None,
        ),
        E::SerdeInvalidLength { len, expected, .. } => {
            Words::at(format!("{len} items where {expected} belong"), None)
        }
        E::Message { msg, .. } => Words::at(serde_words(&strip_location(msg)), None),
        E::TaggedEnumMismatch { tagged, target, .. } => Words::at(
            format!("the tag `!{tagged}` does not name a {target}"),
            Some("remove the tag".to_owned()),
        ),
        E::ExpectedMappingEndAfterEnumVariantValue { .. } => Words::at(
            "a mapping with one key was expected here, but it has more".to_owned(),
            Some("keep one key; other fields belong inside its value".to_owned()),
        ),
        E::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | E::ExpectedStringKeyForExternallyTaggedEnum { .. } => Words::at(
            "expected a name, or a mapping with one key naming the kind".to_owned(),
            None,
        ),
        E::UnexpectedValueForUnit { .. } | E::UnexpectedValueForUnitEnumVariant { .. } => {
            Words::at(
                "this takes no value".to_owned(),
                Some("write the name alone".to_owned()),
            )
        }
        _ => return None,
    })
}

/// Errors about the YAML document itself (its values, keys, anchors, tags, size, encoding
/// and syntax) at `line`:`column` of `source`.
fn document_words(
    error: &serde_saphyr::Error,
    source: Option<&str>,
    line: u64,
    column: u64,
) -> Words {
    use serde_saphyr::Error as E;
    match error {
        E::Unexpected { expected, .. } => Words::at(
            match source.and_then(|t| found_at(t, line, column)) {
                Some(found) => format!("found {found} where {} belongs", expected_words(expected)),
                None => format!("expected {} here", expected_words(expected)),
            },
            None,
        ),
        E::InvalidScalar { ty, .. } => Words::at(format!("expected {}", scalar_words(ty)), None),
        E::NonFiniteFloat { value, .. } => Words::at(
            format!("`{value}` is not a finite number"),
            Some("write a plain number".to_owned()),
        ),
        E::NullIntoString { .. } => Words::at(
            "the value is empty".to_owned(),
            Some("write a value after the `:`, or remove the key".to_owned()),
        ),
        E::DuplicateMappingKey { key, .. } => Words::at(
            match key {
                Some(k) => format!("the key `{k}` appears twice in the same mapping"),
                None => "a key appears twice in the same mapping".to_owned(),
            },
            Some("keep one of them".to_owned()),
        ),
        E::MultipleDocuments { .. } => Words::at(
            "the file holds more than one YAML document (a second `---`)".to_owned(),
            Some("keep one document in this file; remove the extra `---`".to_owned()),
        )
        .without_path(),
        E::Eof { .. } => Words::at(
            "the document ends before it says anything".to_owned(),
            Some("the file is empty or only comments; write the fields it needs".to_owned()),
        ),
        E::UnknownAnchor { .. } => Words::at(
            "an alias (`*name`) refers to an anchor (`&name`) that is not defined above it"
                .to_owned(),
            None,
        ),
        // The path inside a document too large or too deep is no help; the position is.
        E::Budget { breach, .. } => Words::at(
            budget_words(breach),
            Some(
                "no nfslab file needs this much; check the brackets and indentation \
                 around here"
                    .to_owned(),
            ),
        )
        .without_path(),
        E::InvalidUtf8Input => Words::at(
            "the file is not UTF-8 text".to_owned(),
            Some("save it as UTF-8".to_owned()),
        ),
        E::UnsupportedTag { tag, .. } => Words::at(
            format!("the YAML tag `{tag}` is not supported here"),
            Some("remove the tag".to_owned()),
        ),
        other => {
            // Scanner and structure errors (bad indentation, an unclosed quote or bracket):
            // the rendered message is about YAML syntax, without the location suffix.
            let options =
                serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
            let rendered = other.render_with_options(options);
            let one_line = rendered
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Words::at(
                format!("YAML syntax: {}", strip_location(&one_line)),
                Some("check the indentation, quotes and brackets around here".to_owned()),
            )
        }
    }
}

/// The parser's name of the token it expected, as users know it.
fn expected_words(expected: &str) -> String {
    match expected {
        "sequence start" => "a list (`- item` lines, or `[a, b]`)".to_owned(),
        "mapping start" => "a mapping (`key: value` lines, or `{a: 1}`)".to_owned(),
        "string scalar" => "text (a single value)".to_owned(),
        "scalar" => "a single value".to_owned(),
        other => other.to_owned(),
    }
}

/// A budget breach with the limit that was reached.
fn budget_words(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Depth { .. } => {
            format!("the document nests deeper than {MAX_DEPTH} levels")
        }
        BudgetBreach::Nodes { .. } => {
            format!("the document holds more than {MAX_NODES} values")
        }
        BudgetBreach::Documents { .. } => {
            format!("the file holds more than {MAX_DOCUMENTS} documents")
        }
        BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
            "the document uses too many aliases (`*name`) for its anchors".to_owned()
        }
        BudgetBreach::Anchors { .. } => "the document defines too many anchors".to_owned(),
        BudgetBreach::ScalarBytes { .. } | BudgetBreach::InputBytes { .. } => format!(
            "the document is too large (nfslab reads at most {} MiB)",
            MAX_BYTES >> 20
        ),
        _ => "the document is too large or too complex to read".to_owned(),
    }
}

/// A message without the ` at line L, column C` the library may append.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Config {
        #[serde(default)]
        timeouts: Timeouts,
        #[serde(default)]
        steps: Vec<Step>,
        #[serde(default)]
        versions: BTreeMap<String, String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Timeouts {
        bind: Option<String>,
        pod_ready: Option<String>,
        workers: Option<u8>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Step {
        Wait { timeout: String },
        Apply { file: String },
    }

    fn err(text: &str) -> YamlError {
        from_str::<Config>(text).expect_err(text)
    }

    #[test]
    fn unknown_fields_name_the_path_and_a_close_spelling() {
        let e = err("timeouts:\n  bnd: 2m\n");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(e.path.as_deref(), Some("timeouts.bnd"));
        assert_eq!(e.message, "unknown field `bnd`");
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .starts_with("did you mean `bind`?")
        );
    }

    #[test]
    fn wrong_types_say_what_belongs() {
        let e = err("timeouts:\n  workers: -1\n");
        assert_eq!(e.path.as_deref(), Some("timeouts.workers"));
        assert_eq!(e.message, "expected a whole number from 0 to 255");
        let e = err("steps:\n  wait: {timeout: 1s}\n");
        assert_eq!(e.path.as_deref(), Some("steps"));
        assert!(e.message.starts_with("found a mapping where a list"), "{e}");
        let e = err("steps:\n  - wiat: {timeout: 1s}\n");
        assert!(e.message.contains("`wiat`"), "{e}");
        assert!(
            e.hint.as_deref().unwrap_or_default().contains("`wait`"),
            "{e}"
        );
        let e = err("steps:\n  - wait: {}\n");
        assert_eq!(e.message, "missing field `timeout`");
        assert!(
            e.path
                .as_deref()
                .unwrap_or_default()
                .starts_with("steps[0]"),
            "{e}"
        );
    }

    #[test]
    fn library_words_never_reach_the_user() {
        let cases = [
            "timeouts:\n  bind: 1s\ntimeouts:\n  bind: 2s\n",
            "timeouts: {}\n---\ntimeouts: {}\n",
            "versions: *nothing\n",
            "timeouts:\n  bind: 'open\n",
        ];
        for text in cases {
            let e = err(text);
            let shown = e.to_string();
            for word in [
                "budget",
                "Budget",
                "from_str_multiple",
                "DuplicateKeyPolicy",
                "Nodes {",
                "serde",
            ] {
                assert!(!shown.contains(word), "{text:?} -> {shown}");
            }
            assert!(e.line > 0, "{text:?} -> {shown}");
        }
        assert!(
            err("timeouts:\n  bind: 1s\ntimeouts: {}\n")
                .message
                .contains("twice")
        );
        assert!(
            err("timeouts: {}\n---\ntimeouts: {}\n")
                .message
                .contains("more than one")
        );
        let deep =
            from_str::<serde_json::Value>(&format!("x: {}{}\n", "[".repeat(100), "]".repeat(100)))
                .expect_err("deep");
        assert!(deep.message.contains("64 levels"), "{deep}");
        assert!(!deep.to_string().contains("budget"), "{deep}");
    }

    #[test]
    fn invalid_utf8_has_a_position_and_an_encoding_hint() {
        let e = text_of(b"a: 1\nb: caf\xe9\n").expect_err("latin-1");
        assert_eq!((e.line, e.column), (2, 7));
        assert!(
            e.hint.as_deref().unwrap_or_default().contains("UTF-8"),
            "{e}"
        );
        assert!(!e.to_string().contains("permission"));
        assert_eq!(text_of(b"ok: 1\n"), Ok("ok: 1\n"));
        let big = vec![b'#'; MAX_BYTES + 1];
        assert!(
            text_of(&big)
                .expect_err("big")
                .message
                .contains("at most 4 MiB")
        );
    }
}
