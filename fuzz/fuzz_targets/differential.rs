//! `differential`: resp-parser against `redis-protocol` 6 (an independent decoder).
//!
//! The same bytes go to `resp_parser::parse`, to `redis_protocol::resp2::decode::decode`
//! and to `redis_protocol::resp3::decode::complete::decode`. For every reference
//! decoder that, like resp-parser, returns a complete frame, both frames are turned
//! into one common tree and must be equal, and both must have used the same number of
//! bytes.
//!
//! Not compared, by design: inputs that only one side accepts. redis-protocol is lax
//! where resp-parser follows the spec (`:05`, `:+5`, `$3\r\nfooXY`, `_abc`, `#tx`,
//! CR/LF inside simple strings, any text as a big number, `=` without `:` ...), and
//! it knows no streamed aggregates in its complete decoder, so only the frames both
//! accept are compared.
//!
//! Normalisation in the common tree: the three nulls (`$-1`, `*-1`, `_`) are one
//! null (redis-protocol has one); map, set and attribute entries are sorted, and set
//! members de-duplicated (redis-protocol stores them in a `HashMap`/`HashSet`);
//! doubles are compared by value bits, all NaNs being equal. Skipped, because there
//! redis-protocol's result depends on its random hasher: inputs with a repeated key
//! in a map or attribute (it keeps one of the values, in hash order), and inputs where
//! a map key or set member holds a double equal to 0 or NaN (`0.0 == -0.0` with
//! different hashes, `NaN != NaN`).
//!
//! A panic inside redis-protocol is not a finding about resp-parser: it is caught,
//! reported once on stderr with the input, and the input is skipped.
#![no_main]

mod common;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use common::show;
use libfuzzer_sys::fuzz_target;
use redis_protocol::resp2::types::OwnedFrame as R2;
use redis_protocol::resp3::types::{OwnedFrame as R3, VerbatimStringFormat};
use resp_parser::{Frame, GenericFrame, parse};

/// The common tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum T {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    /// f64 bits, NaN canonical.
    Double(u64),
    Bool(bool),
    Big(Vec<u8>),
    BulkError(Vec<u8>),
    Verbatim([u8; 3], Vec<u8>),
    Array(Vec<T>),
    Map(Vec<(T, T)>),
    Set(Vec<T>),
    Push(Vec<T>),
    Attr(Vec<(T, T)>, Box<T>),
}

fn dbits(x: f64) -> u64 {
    if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() }
}

fn norm_pairs(mut v: Vec<(T, T)>) -> Vec<(T, T)> {
    v.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the first occurrence of a key stays first
    v.dedup_by(|later, earlier| later.0 == earlier.0);
    v
}

fn norm_set(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v.dedup();
    v
}

/// Converts a resp-parser frame; `None` if it is not comparable.
struct Ours {
    ambiguous: bool,
}

impl Ours {
    fn conv(&mut self, f: &Frame<'_>) -> T {
        match f {
            GenericFrame::SimpleString(p) => T::Simple(p.to_vec()),
            GenericFrame::SimpleError(p) => T::Error(p.to_vec()),
            GenericFrame::Integer(i) => T::Int(*i),
            GenericFrame::BulkString(p) => T::Bulk(p.to_vec()),
            GenericFrame::NullBulkString | GenericFrame::NullArray | GenericFrame::Null => T::Null,
            GenericFrame::Double(d) => T::Double(dbits(d.value)),
            GenericFrame::Boolean(b) => T::Bool(*b),
            GenericFrame::BigNumber(p) => T::Big(p.to_vec()),
            GenericFrame::BulkError(p) => T::BulkError(p.to_vec()),
            GenericFrame::VerbatimString { format, text } => T::Verbatim(*format, text.to_vec()),
            GenericFrame::Array(v) => T::Array(v.iter().map(|x| self.conv(x)).collect()),
            GenericFrame::Push(v) => T::Push(v.iter().map(|x| self.conv(x)).collect()),
            GenericFrame::Set(v) => {
                let v: Vec<T> = v.iter().map(|x| self.conv(x)).collect();
                self.check_keys(v.iter());
                T::Set(norm_set(v))
            }
            GenericFrame::Map(v) => T::Map(self.pairs(v)),
            GenericFrame::StreamedString(chunks) => {
                // redis-protocol's complete decoder rejects `$?`; keep it comparable anyway.
                T::Bulk(chunks.concat())
            }
            GenericFrame::Attributed(a) => {
                let attrs = self.pairs(&a.attributes);
                T::Attr(attrs, Box::new(self.conv(&a.frame)))
            }
        }
    }

    fn pairs(&mut self, v: &[(Frame<'_>, Frame<'_>)]) -> Vec<(T, T)> {
        let v: Vec<(T, T)> = v.iter().map(|(k, x)| (self.conv(k), self.conv(x))).collect();
        self.check_keys(v.iter().map(|(k, _)| k));
        let n = v.len();
        let v = norm_pairs(v);
        if v.len() != n {
            // A repeated key: redis-protocol keeps one of its values at random (it
            // rebuilds the map from a HashMap keyed by byte ranges, in hash order).
            self.ambiguous = true;
        }
        v
    }

    fn check_keys<'t>(&mut self, keys: impl Iterator<Item = &'t T>) {
        for k in keys {
            if has_odd_double(k) {
                self.ambiguous = true;
            }
        }
    }
}

fn has_odd_double(t: &T) -> bool {
    match t {
        T::Double(bits) => {
            let x = f64::from_bits(*bits);
            x == 0.0 || x.is_nan()
        }
        T::Array(v) | T::Set(v) | T::Push(v) => v.iter().any(has_odd_double),
        T::Map(v) => v.iter().any(|(k, x)| has_odd_double(k) || has_odd_double(x)),
        T::Attr(a, f) => a.iter().any(|(k, x)| has_odd_double(k) || has_odd_double(x)) || has_odd_double(f),
        _ => false,
    }
}

fn conv2(f: &R2) -> T {
    match f {
        R2::SimpleString(s) => T::Simple(s.clone()),
        R2::Error(s) => T::Error(s.as_bytes().to_vec()),
        R2::Integer(i) => T::Int(*i),
        R2::BulkString(b) => T::Bulk(b.clone()),
        R2::Array(v) => T::Array(v.iter().map(conv2).collect()),
        R2::Null => T::Null,
    }
}

/// Converts a redis-protocol RESP3 frame; `None` for frames resp-parser has no
/// counterpart of (HELLO, a lone stream chunk).
fn conv3(f: &R3) -> Option<T> {
    use redis_protocol::resp3::types::OwnedAttributes;
    fn attrs(a: &Option<OwnedAttributes>) -> Option<Option<Vec<(T, T)>>> {
        match a {
            None => Some(None),
            Some(m) => {
                let mut v = Vec::new();
                for (k, x) in m {
                    v.push((conv3(k)?, conv3(x)?));
                }
                Some(Some(norm_pairs(v)))
            }
        }
    }
    fn list(v: &[R3]) -> Option<Vec<T>> {
        v.iter().map(conv3).collect()
    }
    let (t, a) = match f {
        R3::BlobString { data, attributes } => (T::Bulk(data.clone()), attrs(attributes)?),
        R3::BlobError { data, attributes } => (T::BulkError(data.clone()), attrs(attributes)?),
        R3::SimpleString { data, attributes } => (T::Simple(data.clone()), attrs(attributes)?),
        R3::SimpleError { data, attributes } => {
            (T::Error(data.as_bytes().to_vec()), attrs(attributes)?)
        }
        R3::Boolean { data, attributes } => (T::Bool(*data), attrs(attributes)?),
        R3::Null => (T::Null, None),
        R3::Number { data, attributes } => (T::Int(*data), attrs(attributes)?),
        R3::Double { data, attributes } => (T::Double(dbits(*data)), attrs(attributes)?),
        R3::BigNumber { data, attributes } => (T::Big(data.clone()), attrs(attributes)?),
        R3::VerbatimString {
            data,
            format,
            attributes,
        } => {
            let fmt = match format {
                VerbatimStringFormat::Text => *b"txt",
                VerbatimStringFormat::Markdown => *b"mkd",
            };
            (T::Verbatim(fmt, data.clone()), attrs(attributes)?)
        }
        R3::Array { data, attributes } => (T::Array(list(data)?), attrs(attributes)?),
        R3::Push { data, attributes } => (T::Push(list(data)?), attrs(attributes)?),
        R3::Set { data, attributes } => {
            let v: Vec<T> = data.iter().map(conv3).collect::<Option<_>>()?;
            (T::Set(norm_set(v)), attrs(attributes)?)
        }
        R3::Map { data, attributes } => {
            let mut v = Vec::new();
            for (k, x) in data {
                v.push((conv3(k)?, conv3(x)?));
            }
            (T::Map(norm_pairs(v)), attrs(attributes)?)
        }
        R3::Hello { .. } | R3::ChunkedString(_) => return None,
    };
    Some(match a {
        None => t,
        Some(a) => T::Attr(a, Box::new(t)),
    })
}

/// Where two trees first differ, as `path: ours vs theirs` (each shown briefly).
fn first_diff(a: &T, b: &T, path: String) -> String {
    fn brief(t: &T) -> String {
        let s = format!("{t:?}");
        if s.len() > 300 { format!("{}...", &s[..300]) } else { s }
    }
    fn lists(a: &[T], b: &[T], path: &str) -> Option<String> {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if x != y {
                return Some(first_diff(x, y, format!("{path}[{i}]")));
            }
        }
        (a.len() != b.len()).then(|| format!("{path}: {} vs {} elements", a.len(), b.len()))
    }
    fn pairs(a: &[(T, T)], b: &[(T, T)], path: &str) -> Option<String> {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if x.0 != y.0 {
                return Some(first_diff(&x.0, &y.0, format!("{path}[{i}].key")));
            }
            if x.1 != y.1 {
                return Some(first_diff(&x.1, &y.1, format!("{path}[{i}].value")));
            }
        }
        (a.len() != b.len()).then(|| format!("{path}: {} vs {} pairs", a.len(), b.len()))
    }
    let found = match (a, b) {
        (T::Array(x), T::Array(y)) | (T::Set(x), T::Set(y)) | (T::Push(x), T::Push(y)) => {
            lists(x, y, &path)
        }
        (T::Map(x), T::Map(y)) => pairs(x, y, &path),
        (T::Attr(xa, xf), T::Attr(ya, yf)) => {
            pairs(xa, ya, &format!("{path}.attributes")).or_else(|| {
                (xf != yf).then(|| first_diff(xf, yf, format!("{path}.frame")))
            })
        }
        _ => None,
    };
    found.unwrap_or_else(|| format!("{path}: ours {} vs theirs {}", brief(a), brief(b)))
}

thread_local! {
    static IN_REFERENCE: Cell<bool> = const { Cell::new(false) };
}
static HOOK: Once = Once::new();

/// Runs a reference decoder; a panic in it is reported (once per run) and gives `None`.
fn reference<R>(name: &str, data: &[u8], f: impl FnOnce() -> R) -> Option<R> {
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_REFERENCE.with(Cell::get) {
                fuzzer_hook(info); // libFuzzer's hook: print, then abort = a crash report
            }
        }));
    });
    IN_REFERENCE.with(|c| c.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_REFERENCE.with(|c| c.set(false));
    match r {
        Ok(r) => Some(r),
        Err(e) => {
            static ONCE: Once = Once::new();
            ONCE.call_once(|| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("note: redis-protocol {name} panicked ({msg}) on {} (skipped)", show(data));
            });
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some((frame, used))) = parse(data) else {
        return;
    };
    let mut ours = Ours { ambiguous: false };
    let mine = ours.conv(&frame);
    if ours.ambiguous {
        return;
    }

    if let Some(Ok(Some((f2, used2)))) =
        reference("resp2", data, || redis_protocol::resp2::decode::decode(data))
    {
        let theirs = conv2(&f2);
        if (&mine, used) != (&theirs, used2) {
            panic!(
                "resp-parser and redis-protocol RESP2 disagree on {}\n used: ours {used}, theirs {used2}\n first difference: {}",
                show(data),
                first_diff(&mine, &theirs, String::from("frame"))
            );
        }
    }

    if let Some(Ok(Some((f3, used3)))) =
        reference("resp3", data, || redis_protocol::resp3::decode::complete::decode(data))
    {
        if let Some(theirs) = conv3(&f3) {
            if (&mine, used) != (&theirs, used3) {
                panic!(
                    "resp-parser and redis-protocol RESP3 disagree on {}\n used: ours {used}, theirs {used3}\n first difference: {}",
                    show(data),
                    first_diff(&mine, &theirs, String::from("frame"))
                );
            }
        }
    }
});
