//! A table of edge cases: what each input must parse to, or which error it must give
//! and where. Cases follow the RESP3 specification and the kinds of inputs hiredis'
//! reader tests exercise, written anew.

use resp_parser::{
    Attributed, Decoder, Double, ErrorKind, Frame, GenericFrame, Limits, parse, parse_with,
};

fn ok(input: &[u8]) -> Frame<'_> {
    match parse(input) {
        Ok(Some((frame, used))) => {
            assert_eq!(
                used,
                input.len(),
                "input {:?} not wholly used",
                input.escape_ascii().to_string()
            );
            frame
        }
        other => panic!(
            "{:?}: expected a frame, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

fn err(input: &[u8]) -> (usize, ErrorKind) {
    match parse(input) {
        Err(e) => (e.offset, e.kind),
        other => panic!(
            "{:?}: expected an error, got {other:?}",
            input.escape_ascii().to_string()
        ),
    }
}

/// Every strict prefix of a valid reply is incomplete, and the decoder agrees with
/// the one-shot parser when fed byte by byte.
fn assert_prefixes_incomplete(input: &[u8]) {
    let whole = ok(input);
    for n in 0..input.len() {
        assert_eq!(
            parse(&input[..n]),
            Ok(None),
            "prefix {n} of {:?}",
            input.escape_ascii().to_string()
        );
    }
    let mut decoder = Decoder::new();
    for n in 0..input.len() {
        assert_eq!(decoder.decode(&input[..n]), Ok(None));
    }
    assert_eq!(decoder.decode(input), Ok(Some((whole, input.len()))));
}

#[test]
fn resp2_types() {
    assert_eq!(ok(b"+OK\r\n"), Frame::SimpleString(b"OK"));
    assert_eq!(ok(b"+\r\n"), Frame::SimpleString(b""));
    assert_eq!(ok(b"-ERR unknown\r\n"), Frame::SimpleError(b"ERR unknown"));
    assert_eq!(ok(b":0\r\n"), Frame::Integer(0));
    assert_eq!(ok(b":-9223372036854775808\r\n"), Frame::Integer(i64::MIN));
    assert_eq!(ok(b"$0\r\n\r\n"), Frame::BulkString(b""));
    assert_eq!(ok(b"$4\r\na\r\nb\r\n"), Frame::BulkString(b"a\r\nb"));
    assert_eq!(ok(b"$-1\r\n"), Frame::NullBulkString);
    assert_eq!(ok(b"*-1\r\n"), Frame::NullArray);
    assert_eq!(ok(b"*0\r\n"), Frame::Array(vec![]));
    assert_eq!(
        ok(b"*3\r\n:1\r\n*1\r\n$-1\r\n+x\r\n"),
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Array(vec![Frame::NullBulkString]),
            Frame::SimpleString(b"x"),
        ])
    );
}

#[test]
fn resp3_scalars() {
    assert_eq!(ok(b"_\r\n"), Frame::Null);
    assert_eq!(ok(b"#t\r\n"), Frame::Boolean(true));
    assert_eq!(ok(b"#f\r\n"), Frame::Boolean(false));
    let Frame::Double(d) = ok(b",1.23e-4\r\n") else {
        panic!()
    };
    assert_eq!((d.value, d.text), (1.23e-4, &b"1.23e-4"[..]));
    let Frame::Double(d) = ok(b",-inf\r\n") else {
        panic!()
    };
    assert_eq!(d.value, f64::NEG_INFINITY);
    let Frame::Double(d) = ok(b",nan\r\n") else {
        panic!()
    };
    assert!(d.value.is_nan());
    assert_eq!(
        ok(b",nan\r\n"),
        ok(b",nan\r\n"),
        "nan frames compare equal by text"
    );
    assert_eq!(
        ok(b",10\r\n"),
        Frame::Double(Double::from_text(b"10").unwrap())
    );
    assert_eq!(
        ok(b"(3492890328409238509324850943850943825024385\r\n"),
        Frame::BigNumber(b"3492890328409238509324850943850943825024385")
    );
    assert_eq!(ok(b"(-1\r\n"), Frame::BigNumber(b"-1"));
    assert_eq!(
        ok(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Frame::BulkError(b"SYNTAX invalid syntax")
    );
    assert_eq!(
        ok(b"=15\r\ntxt:Some string\r\n"),
        Frame::VerbatimString {
            format: *b"txt",
            text: b"Some string"
        }
    );
    assert_eq!(
        ok(b"=4\r\nmkd:\r\n"),
        Frame::VerbatimString {
            format: *b"mkd",
            text: b""
        }
    );
}

#[test]
fn resp3_aggregates() {
    assert_eq!(
        ok(b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
        Frame::Map(vec![
            (Frame::SimpleString(b"first"), Frame::Integer(1)),
            (Frame::SimpleString(b"second"), Frame::Integer(2)),
        ])
    );
    assert_eq!(ok(b"%0\r\n"), Frame::Map(vec![]));
    assert_eq!(
        ok(b"~2\r\n+a\r\n#f\r\n"),
        Frame::Set(vec![Frame::SimpleString(b"a"), Frame::Boolean(false)])
    );
    assert_eq!(
        ok(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Frame::Push(vec![
            Frame::BulkString(b"message"),
            Frame::BulkString(b"ch"),
            Frame::BulkString(b"hi"),
        ])
    );
    // A map whose keys are aggregates.
    assert_eq!(
        ok(b"%1\r\n*1\r\n:1\r\n~0\r\n"),
        Frame::Map(vec![(
            Frame::Array(vec![Frame::Integer(1)]),
            Frame::Set(vec![])
        )])
    );
}

#[test]
fn attributes_attach_to_the_next_value() {
    // The spec's example: an attribute before an array reply.
    let input = b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n";
    let Frame::Attributed(a) = ok(input) else {
        panic!("expected an attributed frame")
    };
    assert_eq!(
        a.frame,
        Frame::Array(vec![Frame::Integer(2039123), Frame::Integer(9543892)])
    );
    assert_eq!(a.attributes.len(), 1);
    assert_eq!(a.attributes[0].0, Frame::SimpleString(b"key-popularity"));
    // Inside an aggregate the attribute is not an element of its own.
    assert_eq!(
        ok(b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n"),
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Attributed(Box::new(Attributed {
                attributes: vec![(Frame::SimpleString(b"ttl"), Frame::Integer(3600))],
                frame: Frame::Integer(2),
            })),
        ])
    );
    // An attribute alone is not a reply: the parser waits for the value.
    assert_eq!(parse(b"|1\r\n+a\r\n+b\r\n"), Ok(None));
    // An attribute before `.` has nothing to describe.
    assert_eq!(
        err(b"*?\r\n|1\r\n+a\r\n+b\r\n.\r\n"),
        (16, ErrorKind::DanglingAttribute)
    );
}

#[test]
fn streamed_values_come_back_whole() {
    assert_eq!(
        ok(b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n"),
        Frame::StreamedString(vec![b"Hell", b"o wor", b"d"])
    );
    assert_eq!(ok(b"$?\r\n;0\r\n").to_vec().unwrap(), b"");
    assert_eq!(
        ok(b"*?\r\n:1\r\n:2\r\n.\r\n"),
        Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)])
    );
    assert_eq!(
        ok(b"%?\r\n+a\r\n:1\r\n.\r\n"),
        Frame::Map(vec![(Frame::SimpleString(b"a"), Frame::Integer(1))])
    );
    assert_eq!(ok(b"~?\r\n.\r\n"), Frame::Set(vec![]));
    assert_eq!(
        ok(b"*?\r\n*?\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n.\r\n"),
        Frame::Array(vec![Frame::Array(vec![Frame::StreamedString(vec![b"x"])])])
    );
    assert_eq!(
        err(b"%?\r\n+a\r\n.\r\n"),
        (8, ErrorKind::InvalidStream),
        "key without value"
    );
    assert_eq!(
        err(b".\r\n"),
        (0, ErrorKind::InvalidStream),
        "end marker outside a stream"
    );
    assert_eq!(
        err(b"*1\r\n.\r\n"),
        (4, ErrorKind::InvalidStream),
        "end marker in a counted array"
    );
    assert_eq!(
        err(b"$?\r\n+x\r\n"),
        (4, ErrorKind::InvalidStream),
        "chunk must be ;N"
    );
    assert_eq!(err(b"$?\r\n;-1\r\n"), (5, ErrorKind::InvalidLength));
    assert_eq!(err(b"$?\r\n;2\r\nabc\r\n"), (10, ErrorKind::MissingCrlf));
    assert_eq!(
        err(b">?\r\n"),
        (1, ErrorKind::InvalidInteger),
        "pushes are not streamed"
    );
}

#[test]
fn strictness_table() {
    let cases: &[(&[u8], usize, ErrorKind)] = &[
        (b"?\r\n", 0, ErrorKind::UnknownType(b'?')),
        (b"OK\r\n", 0, ErrorKind::UnknownType(b'O')),
        (b":05\r\n", 1, ErrorKind::InvalidInteger),
        (b":-0\r\n", 2, ErrorKind::InvalidInteger),
        (b":+5\r\n", 1, ErrorKind::InvalidInteger),
        (b":\r\n", 1, ErrorKind::InvalidInteger),
        (b":1 \r\n", 2, ErrorKind::InvalidInteger),
        (b":9223372036854775808\r\n", 19, ErrorKind::IntegerOverflow),
        (b":1\rx", 2, ErrorKind::InvalidLineEnding),
        (b"$-2\r\n", 1, ErrorKind::InvalidLength),
        (b"*-2\r\n", 1, ErrorKind::InvalidLength),
        (b"%-1\r\n", 1, ErrorKind::InvalidLength),
        (b"$3\r\nfooXY", 7, ErrorKind::MissingCrlf),
        (b"$3\r\nfoo\rX", 7, ErrorKind::MissingCrlf),
        (b"$3\r\nfooX", 7, ErrorKind::MissingCrlf),
        (b"+a\nb\r\n", 2, ErrorKind::InvalidLineEnding),
        (b"+a\rb\r\n", 2, ErrorKind::InvalidLineEnding),
        (b"-ERR\n", 4, ErrorKind::InvalidLineEnding),
        (b"_abc\r\n", 1, ErrorKind::InvalidNull),
        (b"_\n", 1, ErrorKind::InvalidNull),
        (b"#x\r\n", 1, ErrorKind::InvalidBoolean),
        (b"#tt\r\n", 2, ErrorKind::InvalidBoolean),
        (b",1.2.3\r\n", 1, ErrorKind::InvalidDouble),
        (b",\r\n", 1, ErrorKind::InvalidDouble),
        (b",.5\r\n", 1, ErrorKind::InvalidDouble),
        (b",infinity\r\n", 1, ErrorKind::InvalidDouble),
        (b"(12a\r\n", 1, ErrorKind::InvalidBigNumber),
        (b"(\r\n", 1, ErrorKind::InvalidBigNumber),
        (b"=3\r\ntxt\r\n", 4, ErrorKind::InvalidVerbatim),
        (b"=5\r\ntxt-x\r\n", 4, ErrorKind::InvalidVerbatim),
        (b"!-1\r\n", 1, ErrorKind::InvalidLength),
        (b"*2\r\n:1\r\n:x\r\n", 9, ErrorKind::InvalidInteger),
        (b".x\r\n", 1, ErrorKind::InvalidNull),
    ];
    for &(input, offset, kind) in cases {
        assert_eq!(
            err(input),
            (offset, kind),
            "{:?}",
            input.escape_ascii().to_string()
        );
        // The decoder reports the same error, also when fed byte by byte.
        let mut decoder = Decoder::new();
        let mut result = Ok(None);
        for n in 1..=input.len() {
            result = decoder.decode(&input[..n]);
            if result != Ok(None) {
                break;
            }
        }
        let e = match result {
            Err(e) => e,
            Ok(r) => panic!(
                "decoder accepted {:?}: {r:?}",
                input.escape_ascii().to_string()
            ),
        };
        assert_eq!((e.offset, e.kind), (offset, kind));
    }
}

#[test]
fn limits_are_enforced() {
    let tight = Limits {
        max_depth: 3,
        max_bulk_len: 4,
        max_elements: 2,
        max_line_len: 8,
    };
    assert_eq!(
        parse_with(b"*1\r\n*1\r\n*1\r\n:1\r\n", &tight)
            .unwrap()
            .unwrap()
            .1,
        16
    );
    let e = parse_with(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (12, ErrorKind::DepthLimit));
    let e = parse_with(b"$5\r\nhello\r\n", &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (1, ErrorKind::BulkTooLong));
    let e = parse_with(b"*3\r\n", &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (1, ErrorKind::TooManyElements));
    let e = parse_with(b"+123456789", &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (9, ErrorKind::LineTooLong));
    let e = parse_with(b"$?\r\n;3\r\nabc\r\n;3\r\nabc\r\n;0\r\n", &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (14, ErrorKind::BulkTooLong));
    // A streamed string's total is checked at each chunk's header, like a bulk
    // string's length, not once the chunk's payload has arrived.
    let streamed = b"$?\r\n;3\r\nabc\r\n;2\r\n";
    let e = parse_with(streamed, &tight).unwrap_err();
    assert_eq!((e.offset, e.kind), (14, ErrorKind::BulkTooLong));
    let mut decoder = Decoder::with_limits(tight);
    let e = decoder.decode(streamed).unwrap_err();
    assert_eq!((e.offset, e.kind), (14, ErrorKind::BulkTooLong));
    let e = parse(b"$?\r\n;4\r\nabcd\r\n;536870909\r\n").unwrap_err();
    assert_eq!((e.offset, e.kind), (15, ErrorKind::BulkTooLong));
    // Default line limit: 64 KiB without a CRLF is an error, not an endless wait.
    let mut long = vec![b'+'; 1];
    long.extend(std::iter::repeat_n(b'a', 64 * 1024 + 1));
    assert_eq!(parse(&long).unwrap_err().kind, ErrorKind::LineTooLong);
    // Default depth limit is 512, enforced without recursion.
    let deep = b"*1\r\n".repeat(100_000);
    assert_eq!(
        parse(&deep).unwrap_err(),
        resp_parser::ParseError {
            offset: 512 * 4,
            kind: ErrorKind::DepthLimit
        }
    );
    assert_eq!(parse(&b"*1\r\n".repeat(512)), Ok(None));
}

#[test]
fn huge_length_prefixes_allocate_nothing_up_front() {
    // These would ask for gigabytes if the parser trusted the prefix.
    assert_eq!(parse(b"*4294967295\r\n"), Ok(None));
    assert_eq!(parse(b"%4294967295\r\n:1\r\n"), Ok(None));
    assert_eq!(parse(b"$536870912\r\n"), Ok(None));
    assert_eq!(
        parse(b"$536870913\r\n").unwrap_err().kind,
        ErrorKind::BulkTooLong
    );
    assert_eq!(
        parse(b"*4294967296\r\n").unwrap_err().kind,
        ErrorKind::TooManyElements
    );
}

#[test]
fn every_prefix_is_incomplete() {
    let replies: &[&[u8]] = &[
        b"+OK\r\n",
        b"-ERR x\r\n",
        b":-123\r\n",
        b"$5\r\nhello\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
        b"_\r\n",
        b"#t\r\n",
        b",-1.5e10\r\n",
        b"(123\r\n",
        b"!3\r\nERR\r\n",
        b"=7\r\ntxt:abc\r\n",
        b"%1\r\n+k\r\n~1\r\n#f\r\n",
        b">2\r\n+a\r\n+b\r\n",
        b"|1\r\n+a\r\n+b\r\n:1\r\n",
        b"$?\r\n;2\r\nab\r\n;0\r\n",
        b"*?\r\n:1\r\n%?\r\n+a\r\n+b\r\n.\r\n.\r\n",
    ];
    for reply in replies {
        assert_prefixes_incomplete(reply);
    }
}

#[test]
fn replies_follow_each_other() {
    let input = b"+OK\r\n:1\r\n$1\r\nx\r\n";
    let mut at = 0;
    let mut frames = Vec::new();
    while let Some((frame, used)) = parse(&input[at..]).unwrap() {
        frames.push(frame);
        at += used;
    }
    assert_eq!(at, input.len());
    assert_eq!(
        frames,
        [
            Frame::SimpleString(b"OK"),
            Frame::Integer(1),
            Frame::BulkString(b"x")
        ]
    );
}

#[test]
fn frame_helpers() {
    assert!(Frame::NullBulkString.is_null() && Frame::NullArray.is_null() && Frame::Null.is_null());
    assert!(ok(b"!1\r\nE\r\n").is_error());
    assert_eq!(ok(b"=7\r\ntxt:abc\r\n").as_bytes(), Some(&b"abc"[..]));
    assert_eq!(
        ok(b"$?\r\n;1\r\na\r\n;1\r\nb\r\n;0\r\n").to_vec(),
        Some(b"ab".to_vec())
    );
    assert_eq!(
        format!("{}", ok(b"*3\r\n$1\r\na\r\n:1\r\n_\r\n")),
        "[\"a\", (integer) 1, (nil)]"
    );
    let owned: GenericFrame<Vec<u8>> = ok(b"*1\r\n+x\r\n").map_payload(&mut |s: &[u8]| s.to_vec());
    assert_eq!(
        owned,
        GenericFrame::Array(vec![GenericFrame::SimpleString(b"x".to_vec())])
    );
}

#[test]
fn frames_stay_small() {
    // A frame is copied into every aggregate's Vec: keep it at four words.
    assert_eq!(std::mem::size_of::<Frame<'static>>(), 32);
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_frames_share_the_buffer() {
    use bytes::{Bytes, BytesMut};
    use resp_parser::BytesFrame;

    let mut buf = BytesMut::from(&b"*2\r\n$5\r\nhello\r\n=8\r\ntxt:abcd\r\n+next\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let mut decoder = Decoder::new();
    let frame = decoder.decode_bytes(&mut buf).unwrap().unwrap();
    let BytesFrame::Array(items) = &frame else {
        panic!("{frame:?}")
    };
    let BytesFrame::BulkString(hello) = &items[0] else {
        panic!()
    };
    assert_eq!(hello, &Bytes::from_static(b"hello"));
    assert_eq!(hello.as_ptr() as usize, base + 8, "payload is not copied");
    assert_eq!(
        items[1],
        BytesFrame::VerbatimString {
            format: *b"txt",
            text: Bytes::from_static(b"abcd")
        }
    );
    assert_eq!(&buf[..], b"+next\r\n", "the reply's bytes were split off");
    let (frame, used) = resp_parser::parse_bytes(&buf.freeze()).unwrap().unwrap();
    assert_eq!(
        (frame, used),
        (BytesFrame::SimpleString(Bytes::from_static(b"next")), 7)
    );
}
