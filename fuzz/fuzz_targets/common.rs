//! Helpers shared by the fuzz targets (each target includes this file as `mod common`).
#![allow(dead_code)]

use resp_parser::{ErrorKind, Frame, GenericFrame, ParseError};

/// A frame that owns its payloads, so results from different buffers can be compared.
pub type Owned = GenericFrame<Vec<u8>>;

pub fn owned(frame: &Frame<'_>) -> Owned {
    frame.clone().map_payload(&mut |p: &[u8]| p.to_vec())
}

pub fn owned_from<P: AsRef<[u8]>>(frame: GenericFrame<P>) -> Owned {
    frame.map_payload(&mut |p: P| p.as_ref().to_vec())
}

/// The outcome of one parse, with owned payloads and only the error's kind.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Frame(Owned, usize),
    Incomplete,
    Error(ErrorKind),
}

pub fn outcome(r: &Result<Option<(Frame<'_>, usize)>, ParseError>) -> Outcome {
    match r {
        Ok(Some((f, used))) => Outcome::Frame(owned(f), *used),
        Ok(None) => Outcome::Incomplete,
        Err(e) => Outcome::Error(e.kind),
    }
}

/// Errors that only a [`resp_parser::Limits`] bound produces.
pub fn is_limit(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::DepthLimit
            | ErrorKind::BulkTooLong
            | ErrorKind::TooManyElements
            | ErrorKind::LineTooLong
    )
}

/// Short escaped rendering of an input for assertion messages.
pub fn show(data: &[u8]) -> String {
    let shown: String = data.iter().take(200).flat_map(|b| b.escape_ascii()).map(char::from).collect();
    if data.len() > 200 {
        format!("b\"{shown}\"... ({} bytes)", data.len())
    } else {
        format!("b\"{shown}\"")
    }
}
