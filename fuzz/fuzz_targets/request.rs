//! `request`: arbitrary bytes into `resp_parser::request::parse_request`.
//!
//! Checks (any failure is a panic, i.e. a crash report):
//! * no panic, whatever the input;
//! * on `Ok(Some((req, used)))`: `0 < used <= len`; `data[..used]` alone parses the
//!   same; strict prefixes of it (lengths 0, 1, used/2, used-1) are `Ok(None)` (both
//!   forms: an inline request ends at its first `\n`); the arguments re-encoded with
//!   `encode::encode_command` parse back to the same arguments using every byte; a
//!   multibulk request with at least one argument re-encodes byte-identically, and
//!   its arguments are all `Cow::Borrowed` slices of the input;
//! * on `Ok(None)`: the same prefixes of the input are `Ok(None)`;
//! * on `Err(e)`: `e.offset <= len`, and appending bytes never makes the input valid;
//! * under tiny `Limits`, the result is the default one, or a limit error, or (where
//!   the default result is an error) another error.
#![no_main]

mod common;

use std::borrow::Cow;

use common::{is_limit, show};
use libfuzzer_sys::fuzz_target;
use resp_parser::encode::encode_command;
use resp_parser::request::{Request, parse_request, parse_request_with};
use resp_parser::{ErrorKind, Limits, ParseError};

const TINY: Limits = Limits {
    max_depth: 3,
    max_bulk_len: 8,
    max_elements: 4,
    max_line_len: 8,
};

#[derive(Debug, PartialEq)]
enum Outcome {
    Request(Vec<Vec<u8>>, usize),
    Incomplete,
    Error(ErrorKind),
}

fn outcome(r: &Result<Option<(Request<'_>, usize)>, ParseError>) -> Outcome {
    match r {
        Ok(Some((q, n))) => Outcome::Request(q.args.iter().map(|a| a.to_vec()).collect(), *n),
        Ok(None) => Outcome::Incomplete,
        Err(e) => Outcome::Error(e.kind),
    }
}

fn prefixes(n: usize) -> impl Iterator<Item = usize> {
    let mut v = [0, 1, n / 2, n.saturating_sub(1)];
    v.sort_unstable();
    let mut last = usize::MAX;
    v.into_iter().filter(move |&p| {
        let keep = p < n && p != last;
        last = p;
        keep
    })
}

fuzz_target!(|data: &[u8]| {
    let result = parse_request(data);
    let expected = outcome(&result);

    let tiny = outcome(&parse_request_with(data, &TINY));
    match (&tiny, &expected) {
        (a, b) if a == b => {}
        (Outcome::Error(k), _) if is_limit(*k) => {}
        (Outcome::Error(_), Outcome::Error(_)) => {}
        _ => panic!("tiny limits gave {tiny:?}, default gave {expected:?} on {}", show(data)),
    }

    let (req, used) = match result {
        Ok(Some(x)) => x,
        Ok(None) => {
            for p in prefixes(data.len()) {
                let r = outcome(&parse_request(&data[..p]));
                assert_eq!(r, Outcome::Incomplete, "prefix {p} of an incomplete request: {}", show(data));
            }
            return;
        }
        Err(e) => {
            assert!(e.offset <= data.len(), "error offset {} past the input ({} bytes)", e.offset, data.len());
            for tail in [&b"\r\n"[..], b"\n", b" x\r\n*1\r\n$1\r\na\r\n"] {
                let mut longer = data.to_vec();
                longer.extend_from_slice(tail);
                let r = parse_request(&longer);
                assert!(
                    r.is_err(),
                    "request {} is an error ({e:?}) but with {} appended gives {:?}",
                    show(data),
                    show(tail),
                    outcome(&r)
                );
            }
            return;
        }
    };
    assert!(used > 0 && used <= data.len(), "used {used} of {} bytes", data.len());
    let multibulk = data[0] == b'*';
    let whole = &data[..used];
    let args: Vec<&[u8]> = req.args.iter().map(|a| a.as_ref()).collect();

    assert_eq!(outcome(&parse_request(whole)), expected, "request parsed alone differs: {}", show(data));

    for p in prefixes(used) {
        let r = outcome(&parse_request(&whole[..p]));
        assert_eq!(r, Outcome::Incomplete, "prefix of {p} bytes of a valid request: {}", show(whole));
    }

    if multibulk {
        let range = data.as_ptr_range();
        for a in &req.args {
            match a {
                Cow::Borrowed(s) => assert!(
                    range.start <= s.as_ptr() && s.as_ptr_range().end <= range.end,
                    "multibulk argument not borrowed from the input"
                ),
                Cow::Owned(_) => panic!("multibulk argument copied: {}", show(whole)),
            }
        }
    }

    let mut v = Vec::new();
    encode_command(&mut v, &args);
    match parse_request(&v) {
        Ok(Some((req2, n))) => {
            assert_eq!(n, v.len(), "re-encoded request: used {n} of {}: {}", v.len(), show(&v));
            let args2: Vec<&[u8]> = req2.args.iter().map(|a| a.as_ref()).collect();
            assert_eq!(args2, args, "re-encoded request parses to other args: {}", show(&v));
        }
        other => panic!(
            "re-encoded request {} does not parse: {:?} (input {})",
            show(&v),
            outcome(&other),
            show(data)
        ),
    }
    if multibulk && !args.is_empty() {
        assert_eq!(v, whole, "multibulk request does not re-encode byte-identically: {}", show(whole));
    }
});
