//! Turning a connection's read buffer into replies, for the sync and async connections.
//!
//! Replies usually arrive several at a time: a pipeline's, or those of many callers on
//! a multiplexed connection. Splitting each one off the read buffer on its own costs
//! a few reference-count updates and a pass of the general decoder per reply, which
//! for 1000 `+OK`s was a third of the client's time. So when the buffer starts at a
//! reply boundary, [`Replies`] parses every complete reply it holds with the
//! stateless parser's fast paths, splits them off together as one shared buffer, and
//! hands them out one by one. A reply that is still incomplete goes to the resumable
//! [`Decoder`], so a large reply arriving in pieces is never parsed again from its
//! start.
//!
//! # Hostile replies
//!
//! Nothing here trusts a length or count the server announces: the parser reserves
//! memory only for bytes that are in the buffer (see `resp_parser::Limits`), and
//! [`bytes_needed`](Replies::bytes_needed) is a hint that a reader may grow its buffer
//! towards, never a size to reserve at once. A reply past a limit of
//! `resp_parser::Limits::DEFAULT` (a bulk string over 512 MiB, more than 2^32 - 1
//! elements, nesting deeper than 512, a line over 64 KiB) is refused as soon as the
//! header that breaks it arrives, as a [`ParseError`] whose offset counts from the
//! reply's first byte; the connection is then closed. `tests/memory.rs` checks both.

use std::collections::VecDeque;

use bytes::BytesMut;
use resp_parser::{Decoder, GenericFrame, ParseError};

use crate::reply::Value;

/// Why [`Replies::skip`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// It dropped as many replies as it was asked to.
    Done,
    /// The buffer ends inside a reply (or is empty): read more.
    Incomplete,
    /// The next reply needs [`Replies::next`]: something is pending, the caller wants
    /// this one, or it is malformed.
    UseNext,
}

/// Decodes replies from a read buffer (see the [module docs](self)).
#[derive(Debug, Default)]
pub(crate) struct Replies {
    decoder: Decoder,
    /// Replies decoded but not yet taken, in order.
    ready: VecDeque<Value>,
}

impl Replies {
    /// The next reply: one decoded earlier, or one from the front of `buf`, which
    /// holds the bytes received after everything decoded so far. `Ok(None)` when
    /// `buf` does not hold a whole reply yet.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, ParseError> {
        if let Some(value) = self.ready.pop_front() {
            return Ok(Some(value));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if !self.decoder.in_progress() {
            self.take_complete(buf)?;
            if let Some(value) = self.ready.pop_front() {
                return Ok(Some(value));
            }
        }
        self.decoder.decode_bytes(buf)
    }

    /// Bytes the reply being decoded needs before the decoder can go on, when that
    /// is known (a large bulk string). It is the peer's claim: grow towards it in
    /// steps no larger than what has arrived, never reserve it at once.
    pub(crate) fn bytes_needed(&self) -> Option<usize> {
        self.decoder.bytes_needed()
    }

    /// Drops up to `n` whole replies from the front of `buf` without building values,
    /// for a caller that wants none of them: each is parsed (so malformed bytes are
    /// still caught, by [`next`](Self::next)) but nothing is allocated or
    /// reference-counted for it. The `k`-th reply is dropped only if
    /// `skippable(k, reply)`. Skips nothing while anything is pending (a reply decoded
    /// but not taken, or one half-decoded): [`next`](Self::next) goes first.
    ///
    /// Returns how many replies it dropped and why it stopped.
    pub(crate) fn skip(
        &mut self,
        buf: &mut BytesMut,
        n: usize,
        mut skippable: impl FnMut(usize, &GenericFrame<&[u8]>) -> bool,
    ) -> (usize, Skip) {
        if !self.ready.is_empty() || self.decoder.in_progress() {
            return (0, Skip::UseNext);
        }
        let limits = self.decoder.limits();
        let (mut used, mut skipped) = (0, 0);
        let why = loop {
            if skipped == n {
                break Skip::Done;
            }
            match resp_parser::parse_with(&buf[used..], limits) {
                Ok(Some((frame, len))) if skippable(skipped, &frame) => {
                    used += len;
                    skipped += 1;
                }
                Ok(None) => break Skip::Incomplete,
                // A reply the caller wants, or bad bytes: `next` reports those.
                _ => break Skip::UseNext,
            }
        };
        bytes::Buf::advance(buf, used);
        (skipped, why)
    }

    /// Forgets everything: for a new connection.
    pub(crate) fn reset(&mut self) {
        self.decoder.reset();
        self.ready.clear();
    }

    /// Moves every complete reply at the front of `buf` into `ready`.
    fn take_complete(&mut self, buf: &mut BytesMut) -> Result<(), ParseError> {
        let limits = self.decoder.limits();
        // Payloads are recorded as (offset, length) so that nothing borrows `buf`
        // when it is split.
        let base = buf.as_ptr() as usize;
        let mut frames: Vec<GenericFrame<(usize, usize)>> = Vec::new();
        let mut used = 0;
        while used < buf.len() {
            match resp_parser::parse_with(&buf[used..], limits) {
                Ok(Some((frame, n))) => {
                    frames.push(
                        frame.map_payload(&mut |p: &[u8]| (p.as_ptr() as usize - base, p.len())),
                    );
                    used += n;
                }
                Ok(None) => break,
                // The replies before a malformed one are handed out first; the error
                // comes when the malformed one is at the front.
                Err(e) if frames.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        if frames.is_empty() {
            return Ok(());
        }
        let shared = buf.split_to(used).freeze();
        self.ready.extend(frames.into_iter().map(|frame| {
            frame.map_payload(&mut |(start, len): (usize, usize)| shared.slice(start..start + len))
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn take_all(replies: &mut Replies, buf: &mut BytesMut) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = replies.next(buf).unwrap() {
            out.push(v);
        }
        out
    }

    #[test]
    fn every_complete_reply_comes_out_in_order_and_the_rest_waits() {
        let mut replies = Replies::default();
        let mut buf = BytesMut::from(&b"+OK\r\n:7\r\n$3\r\nfoo\r\n*2\r\n$1\r\na\r\n$"[..]);
        let got = take_all(&mut replies, &mut buf);
        assert_eq!(
            got,
            [
                GenericFrame::SimpleString(Bytes::from_static(b"OK")),
                GenericFrame::Integer(7),
                GenericFrame::BulkString(Bytes::from_static(b"foo")),
            ]
        );
        // The incomplete array stays in the buffer, and completes with more bytes.
        assert_eq!(&buf[..], b"*2\r\n$1\r\na\r\n$");
        buf.extend_from_slice(b"1\r\nb\r\n-ERR x\r\n");
        let got = take_all(&mut replies, &mut buf);
        assert_eq!(
            got,
            [
                GenericFrame::Array(vec![
                    GenericFrame::BulkString(Bytes::from_static(b"a")),
                    GenericFrame::BulkString(Bytes::from_static(b"b")),
                ]),
                GenericFrame::SimpleError(Bytes::from_static(b"ERR x")),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_reply_fed_byte_by_byte_comes_out_whole_once() {
        let wire = b"*3\r\n$5\r\nhello\r\n:1\r\n%1\r\n+k\r\n_\r\n+after\r\n";
        let mut replies = Replies::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            got.extend(take_all(&mut replies, &mut buf));
        }
        let (first, _) = resp_parser::parse_bytes(&Bytes::from_static(wire))
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], first);
        assert_eq!(
            got[1],
            GenericFrame::SimpleString(Bytes::from_static(b"after"))
        );
    }

    /// Real and hand-written replies from the fuzz seed corpus, each a whole stream
    /// of complete replies (seeds that are not, such as inline requests, are skipped).
    fn seed_replies() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed");
        let mut seeds = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/seed is checked in") {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            if !bytes.is_empty() && one_shot(&Bytes::from(bytes.clone())).is_some() {
                seeds.push(bytes);
            }
        }
        assert!(seeds.len() > 100, "only {} usable seeds", seeds.len());
        seeds
    }

    /// Every reply of `stream` parsed one-shot, reply after reply; `None` unless the
    /// stream is a sequence of complete, valid replies.
    fn one_shot(stream: &Bytes) -> Option<Vec<Value>> {
        let mut rest = stream.clone();
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let (frame, used) = resp_parser::parse_bytes(&rest).ok()??;
            frames.push(frame);
            rest = rest.slice(used..);
        }
        Some(frames)
    }

    /// The seed replies that `picks` choose, back to back.
    fn seed_stream(picks: &[proptest::sample::Index]) -> Vec<u8> {
        thread_local!(static SEEDS: Vec<Vec<u8>> = seed_replies());
        SEEDS.with(|seeds| {
            picks
                .iter()
                .flat_map(|pick| pick.get(seeds).iter().copied())
                .collect()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// A stream of replies that arrives in pieces of any sizes comes out as the same
        /// replies, in the same order, as one-shot parsing gives, and nothing is left.
        /// With a malformed reply at the end, every reply before it comes out first.
        #[test]
        fn pieces_of_any_size_give_the_one_shot_replies(
            picks in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 1..30),
            sizes in proptest::collection::vec(1usize..400, 1..6),
            malformed_tail in proptest::prelude::any::<bool>(),
        ) {
            let mut stream = seed_stream(&picks);
            let expected = one_shot(&Bytes::from(stream.clone())).expect("seeds are whole replies");
            if malformed_tail {
                stream.extend_from_slice(b":05\r\n");
            }

            let mut replies = Replies::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut error = None;
            let (mut at, mut i) = (0, 0);
            while at < stream.len() && error.is_none() {
                let n = sizes[i % sizes.len()].min(stream.len() - at);
                i += 1;
                buf.extend_from_slice(&stream[at..at + n]);
                at += n;
                loop {
                    match replies.next(&mut buf) {
                        Ok(Some(v)) => got.push(v),
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
            }
            proptest::prop_assert_eq!(&got, &expected);
            if malformed_tail {
                let e = error.expect("the malformed reply is an error");
                proptest::prop_assert_eq!(e.kind, resp_parser::ErrorKind::InvalidInteger);
            } else {
                proptest::prop_assert!(error.is_none());
                proptest::prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
            }
        }

        /// Skipping some replies and taking the others, as a pipeline read into `()`
        /// does, with the stream arriving in pieces of any sizes: every taken reply is
        /// the one-shot reply at its place, the count of both adds up to all of them,
        /// and nothing is left over.
        #[test]
        fn skipped_and_taken_replies_stay_in_step(
            picks in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 1..30),
            sizes in proptest::collection::vec(1usize..400, 1..6),
            take in proptest::collection::vec(proptest::prelude::any::<bool>(), 30),
        ) {
            let stream = seed_stream(&picks);
            let expected = one_shot(&Bytes::from(stream.clone())).expect("seeds are whole replies");
            let total = expected.len();

            let mut replies = Replies::default();
            let mut buf = BytesMut::new();
            let (mut at, mut piece) = (0, 0);
            let mut feed = |buf: &mut BytesMut| -> bool {
                if at == stream.len() {
                    return false;
                }
                let n = sizes[piece % sizes.len()].min(stream.len() - at);
                piece += 1;
                buf.extend_from_slice(&stream[at..at + n]);
                at += n;
                true
            };
            let (mut i, mut skipped, mut taken) = (0, 0, 0);
            while i < total {
                let (n, why) = replies.skip(&mut buf, total - i, |k, _| !take[(i + k) % take.len()]);
                i += n;
                skipped += n;
                match why {
                    Skip::Done => break,
                    Skip::Incomplete => {
                        proptest::prop_assert!(feed(&mut buf), "incomplete at the end of the stream");
                    }
                    Skip::UseNext => match replies.next(&mut buf).unwrap() {
                        Some(v) => {
                            proptest::prop_assert_eq!(&v, &expected[i], "reply {}", i);
                            i += 1;
                            taken += 1;
                        }
                        None => {
                            proptest::prop_assert!(feed(&mut buf), "no reply at the end of the stream");
                        }
                    },
                }
            }
            proptest::prop_assert_eq!(skipped + taken, total);
            proptest::prop_assert!(at == stream.len() && buf.is_empty(), "{} bytes left over", stream.len() - at + buf.len());
        }
    }

    #[test]
    fn replies_before_a_malformed_one_come_out_before_its_error() {
        let mut replies = Replies::default();
        let mut buf = BytesMut::from(&b"+OK\r\n:05\r\n"[..]);
        let ok = replies.next(&mut buf).unwrap();
        assert_eq!(
            ok,
            Some(GenericFrame::SimpleString(Bytes::from_static(b"OK")))
        );
        let err = replies.next(&mut buf).unwrap_err();
        assert_eq!(err.kind, resp_parser::ErrorKind::InvalidInteger);
    }
}
