//! Strict, zero-copy RESP2/RESP3 parser and encoder.
//!
//! RESP is the protocol Redis speaks. This crate reads replies (every RESP2 and RESP3
//! type, including attributes and streamed values) and requests (multibulk and inline
//! commands, as redis-server reads them), and writes frames and commands back.
//!
//! ```
//! use resp_parser::{parse, Frame};
//!
//! let input = b"%1\r\n+name\r\n$6\r\nstdnet\r\n";
//! let (frame, used) = parse(input).unwrap().expect("a whole reply");
//! assert_eq!(used, input.len());
//! assert_eq!(
//!     frame,
//!     Frame::Map(vec![(Frame::SimpleString(b"name"), Frame::BulkString(b"stdnet"))])
//! );
//!
//! let mut out = Vec::new();
//! frame.encode(&mut out);
//! assert_eq!(out, input);
//! ```
//!
//! # The API
//!
//! * [`parse`] / [`parse_with`]: one reply from the start of a byte slice, as
//!   `Ok(Some((frame, used)))`, `Ok(None)` when more bytes are needed, or a
//!   [`ParseError`] that names the byte offset and the fault.
//! * [`Decoder`]: the same, resumable, for replies that arrive in pieces: it never
//!   re-reads what it has already read.
//! * [`Frame`]: the parsed value, borrowing its payloads from the input. With the
//!   `bytes` feature, `BytesFrame` holds `bytes::Bytes` handles instead.
//! * [`encode`]: frames and commands to bytes, straight into a `Vec<u8>` (or any
//!   `bytes::BufMut`).
//! * [`request`]: client requests, for servers and proxies.
//!
//! # Strictness
//!
//! The parser accepts exactly the RESP3 specification's grammar: integers and lengths
//! are canonical (no `05`, `+5` or `-0`), a bulk payload must be followed by CRLF,
//! simple strings may not contain CR or LF, `_`, `#t` and `.` may not carry content,
//! and so on. Every strict prefix of a valid reply is reported as incomplete, never as
//! an error or as a different reply. Untrusted input is bounded by [`Limits`]; nothing
//! in the parser panics on any input, and it allocates nothing that the input's actual
//! size does not justify: a length or count prefix reserves nothing for bytes that are
//! not there, and one reply, however its aggregates nest, costs at most 48 bytes of
//! heap per input byte (its frames, and the slack of `Vec`s still growing), plus the
//! stack of open aggregates (144 bytes a level, in a `Vec` that doubles as it grows;
//! about 100 KiB at the default depth limit). `tests/allocation.rs` measures this with a
//! counting allocator on hostile inputs, for [`parse`] and the [`Decoder`].
//!
//! # Features
//!
//! * `bytes`: `BytesFrame`, [`Decoder::decode_bytes`], and encoding into any `BufMut`.
//!
//! The crate is `no_std` (it needs `alloc`) and has no `unsafe` code
//! (`#![forbid(unsafe_code)]`): the speed comes from its fast paths, not from skipped
//! bounds checks.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod decoder;
pub mod encode;
pub mod error;
pub mod frame;
pub mod limits;
mod parse;
pub mod request;
mod scalar;

pub use decoder::Decoder;
pub use error::{ErrorKind, ParseError};
#[cfg(feature = "bytes")]
pub use frame::BytesFrame;
pub use frame::{Attributed, Double, Frame, GenericFrame};
pub use limits::Limits;
#[cfg(feature = "bytes")]
pub use parse::parse_bytes;
pub use parse::{parse, parse_with};
