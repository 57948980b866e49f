use super::*;

#[test]
fn elements_are_read_in_order_with_short_and_long_lengths() {
    let mut long = vec![0x04, 0x81, 0x80];
    long.extend(std::iter::repeat_n(7u8, 0x80));
    let mut bytes = vec![0x02, 0x01, 0x05];
    bytes.extend(&long);
    let mut r = Reader::new(&bytes);
    assert_eq!(r.peek(), Some(INTEGER));
    assert_eq!(r.expect(INTEGER, "n").unwrap(), &[5]);
    assert_eq!(r.optional(INTEGER).unwrap(), None);
    assert_eq!(r.expect(OCTET_STRING, "s").unwrap().len(), 0x80);
    assert!(r.is_empty());
}

#[test]
fn malformed_elements_are_errors_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x30], "truncated"),
        (&[0x30, 0x05, 0x01], "truncated"),
        (&[0x30, 0x80, 0x00, 0x00], "indefinite"),
        (&[0x30, 0x85, 1, 0, 0, 0, 0], "too long"),
        (&[0x30, 0x82, 0x01], "too long or truncated"),
        (&[0x1f, 0x81, 0x01, 0x00], "multi-byte"),
        (&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], "truncated"),
    ];
    for (bytes, want) in cases {
        let err = Reader::new(bytes).element().unwrap_err().to_string();
        assert!(err.contains(want), "{bytes:02x?}: {err}");
    }
    let err = Reader::new(&[0x02, 0x00])
        .expect(SEQUENCE, "tbs")
        .unwrap_err();
    assert!(err.to_string().contains("tbs"), "{err}");
}

#[test]
fn oids_read_as_dotted_text() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x55, 0x1d, 0x11], "2.5.29.17"),
        (
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x0c],
            "1.3.6.1.4.1.57264.1.12",
        ),
        (
            &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03],
            "1.3.6.1.5.5.7.3.3",
        ),
        (&[0x88, 0x37], "2.999"),
    ];
    for (bytes, want) in cases {
        assert_eq!(oid_text(bytes).unwrap(), *want);
    }
    assert!(oid_text(&[]).is_err());
    assert!(oid_text(&[0x2b, 0x86]).is_err(), "ends inside an arc");
    assert!(oid_text(&[0xff; 20]).is_err(), "overflows");
}

#[test]
fn certificate_times_are_utc_seconds() {
    let t = |tag, s: &str| {
        time(Tlv {
            tag,
            content: s.as_bytes(),
        })
    };
    assert_eq!(t(UTC_TIME, "700101000000Z").unwrap(), 0);
    assert_eq!(t(UTC_TIME, "261207090000Z").unwrap(), 1_796_634_000);
    assert_eq!(t(UTC_TIME, "491231235959Z").unwrap(), 2_524_607_999);
    assert_eq!(
        t(GENERALIZED_TIME, "20261207090000Z").unwrap(),
        1_796_634_000
    );
    for (tag, bad) in [
        (UTC_TIME, "261207090000"),
        (UTC_TIME, "2612070900Z"),
        (UTC_TIME, "261307090000Z"),
        (UTC_TIME, "26120709000+Z"),
        (GENERALIZED_TIME, "261207090000Z"),
        (INTEGER, "261207090000Z"),
    ] {
        assert!(t(tag, bad).is_err(), "{bad}");
    }
}
