//! Property tests: random frames round-trip through encode and parse, every strict
//! prefix of an encoding is incomplete, and feeding a stream of replies to the
//! [`Decoder`] in pieces of any size gives the frames that one-shot parsing gives.

use proptest::prelude::*;
use resp_parser::{Attributed, Decoder, Double, GenericFrame, parse};

type Owned = GenericFrame<Vec<u8>>;

fn line_text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..12,
    )
}

fn blob() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40)
}

fn double_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:?}").into_bytes()),
        "[+-]?[0-9]{1,5}(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?".prop_map(String::into_bytes),
        Just(b"inf".to_vec()),
        Just(b"-inf".to_vec()),
        Just(b"nan".to_vec()),
    ]
}

fn scalar() -> impl Strategy<Value = Owned> {
    prop_oneof![
        line_text().prop_map(GenericFrame::SimpleString),
        line_text().prop_map(GenericFrame::SimpleError),
        any::<i64>().prop_map(GenericFrame::Integer),
        blob().prop_map(GenericFrame::BulkString),
        Just(GenericFrame::NullBulkString),
        Just(GenericFrame::NullArray),
        Just(GenericFrame::Null),
        double_text().prop_map(|text| {
            let value = Double::from_text(&text)
                .expect("generated doubles follow the grammar")
                .value;
            GenericFrame::Double(Double { value, text })
        }),
        any::<bool>().prop_map(GenericFrame::Boolean),
        "-?[0-9]{1,60}".prop_map(|s| GenericFrame::BigNumber(s.into_bytes())),
        blob().prop_map(GenericFrame::BulkError),
        (any::<[u8; 3]>(), blob())
            .prop_map(|(format, text)| GenericFrame::VerbatimString { format, text }),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..10), 0..4)
            .prop_map(GenericFrame::StreamedString),
    ]
}

fn frame() -> impl Strategy<Value = Owned> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(GenericFrame::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(GenericFrame::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(GenericFrame::Push),
            pairs.clone().prop_map(GenericFrame::Map),
            // Two attributes in a row describe one value, so an attributed frame is never
            // itself the direct subject of another attribute.
            (
                pairs,
                inner.prop_filter("not attributed", |f| !matches!(
                    f,
                    GenericFrame::Attributed(_)
                ))
            )
                .prop_map(|(attributes, frame)| {
                    GenericFrame::Attributed(Box::new(Attributed { attributes, frame }))
                }),
        ]
    })
}

fn encode(frame: &Owned) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode_to(&mut out);
    out
}

fn owned(frame: resp_parser::Frame<'_>) -> Owned {
    frame.map_payload(&mut |s: &[u8]| s.to_vec())
}

/// Parses a stream of replies one-shot, reply after reply.
fn one_shot(stream: &[u8]) -> Vec<Owned> {
    let mut at = 0;
    let mut frames = Vec::new();
    while let Some((frame, used)) = parse(&stream[at..]).expect("valid stream") {
        frames.push(owned(frame));
        at += used;
    }
    assert_eq!(at, stream.len());
    frames
}

/// Feeds a stream to a decoder in pieces of the given sizes, as a socket reader does.
fn chunked(stream: &[u8], sizes: &[usize]) -> Vec<Owned> {
    let mut decoder = Decoder::new();
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() {
        let n = sizes[i % sizes.len()].min(stream.len() - at);
        i += 1;
        buf.extend_from_slice(&stream[at..at + n]);
        at += n;
        while let Some((frame, used)) = decoder.decode(&buf).expect("valid stream") {
            frames.push(owned(frame));
            buf.drain(..used);
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_parse_is_identity(f in frame()) {
        let bytes = encode(&f);
        let (parsed, used) = parse(&bytes).unwrap().expect("complete");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(owned(parsed), f);
    }

    #[test]
    fn every_strict_prefix_is_incomplete(f in frame()) {
        let bytes = encode(&f);
        for n in 0..bytes.len() {
            prop_assert_eq!(parse(&bytes[..n]), Ok(None), "prefix {}", n);
        }
    }

    #[test]
    fn chunked_feeding_equals_one_shot(
        frames in proptest::collection::vec(frame(), 1..8),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let stream: Vec<u8> = frames.iter().flat_map(encode).collect();
        let expected = one_shot(&stream);
        prop_assert_eq!(&expected, &frames);
        prop_assert_eq!(chunked(&stream, &sizes), expected.clone());
        prop_assert_eq!(chunked(&stream, &[1]), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let one = parse(&bytes);
        let mut decoder = Decoder::new();
        let resumed = (1..=bytes.len()).map(|n| decoder.decode(&bytes[..n])).find(|r| *r != Ok(None));
        match (one, resumed) {
            (Ok(None), None) => {}
            (Ok(Some((a, n))), Some(Ok(Some((b, m))))) => {
                prop_assert_eq!(a, b);
                prop_assert_eq!(n, m);
            }
            (Err(a), Some(Err(b))) => prop_assert_eq!(a, b),
            (Ok(Some(_)) | Err(_), None) if bytes.is_empty() => {}
            (a, b) => prop_assert!(false, "one-shot {:?} but decoder {:?}", a, b),
        }
    }
}
