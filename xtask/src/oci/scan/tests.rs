//! The secret scan over small layouts written here.

use std::io::Write;

use super::*;
use crate::oci::{DescriptorPlatform, MEDIA_CONFIG, MEDIA_LAYER_GZIP, MEDIA_LAYER_TAR};

const SECRET: &str = "npm_5ecretT0ken&<x>";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A one-platform image (config, the given layers) under an index; returns the index.
fn image(layout: &Layout, config: &str, layers: &[(&str, Vec<u8>)]) -> Descriptor {
    let config = layout.write_blob(MEDIA_CONFIG, config.as_bytes()).unwrap();
    let layers = layers
        .iter()
        .map(|(mt, bytes)| layout.write_blob(mt, bytes).unwrap())
        .collect();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: Default::default(),
    };
    let mut m = layout.write_json(MEDIA_MANIFEST, &manifest).unwrap();
    m.platform = Some(DescriptorPlatform {
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    layout
        .write_json(MEDIA_INDEX, &Index::new(vec![m]))
        .unwrap()
}

fn needles() -> Vec<Needle> {
    vec![Needle::of_secret("secret-build-arg NPM_TOKEN", SECRET, &[]).unwrap()]
}

fn scan(layout: &Layout, top: &Descriptor) -> Option<Hit> {
    let mut s = Scanner::new(&needles()).unwrap().unwrap();
    s.scan(layout, top).unwrap()
}

#[test]
fn a_secret_is_found_in_every_kind_of_blob_and_named_by_its_label() {
    let d = tempfile::tempdir().unwrap();
    let layout = Layout::create(d.path()).unwrap();
    let clean = gzip(b"nothing to see");
    // Big enough that the value straddles the decoder's and the matcher's buffers.
    let mut big = vec![b'a'; (1 << 20) - 7];
    big.extend_from_slice(SECRET.as_bytes());
    big.extend(vec![b'b'; 1 << 20]);
    let mut two_members = gzip(b"first member ");
    two_members.extend(gzip(format!("then {SECRET}").as_bytes()));
    let go_escaped = SECRET
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    let history =
        format!("{{\"history\":[{{\"created_by\":\"|1 NPM_TOKEN={go_escaped} /bin/sh\"}}]}}");
    /// (name, config, layers with their media type, where the secret is found)
    type Case<'a> = (&'a str, String, Vec<(&'a str, Vec<u8>)>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "clean",
            "{}".into(),
            vec![(MEDIA_LAYER_GZIP, clean.clone())],
            None,
        ),
        (
            "gzip layer",
            "{}".into(),
            vec![
                (MEDIA_LAYER_GZIP, clean.clone()),
                (MEDIA_LAYER_GZIP, gzip(&big)),
            ],
            Some("layer 2 of linux/amd64"),
        ),
        (
            "second gzip member",
            "{}".into(),
            vec![(MEDIA_LAYER_GZIP, two_members)],
            Some("layer 1 of linux/amd64"),
        ),
        (
            "plain tar",
            "{}".into(),
            vec![(MEDIA_LAYER_TAR, big.clone())],
            Some("layer 1 of linux/amd64"),
        ),
        (
            "config history, Go-escaped",
            history,
            vec![(MEDIA_LAYER_GZIP, clean.clone())],
            Some("the config of linux/amd64"),
        ),
    ];
    for (name, config, layers, want) in cases {
        let top = image(&layout, &config, &layers);
        let hit = scan(&layout, &top);
        assert_eq!(hit.as_ref().map(|h| h.place.as_str()), want, "{name}");
        if let Some(h) = hit {
            assert_eq!(h.label, "secret-build-arg NPM_TOKEN", "{name}");
        }
    }
}

#[test]
fn annotations_of_the_index_and_manifest_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let layout = Layout::create(d.path()).unwrap();
    let top = image(&layout, "{}", &[(MEDIA_LAYER_GZIP, gzip(b"x"))]);
    let mut index: Index = layout.read_json(&top.digest).unwrap();
    index
        .annotations
        .insert("org.example.token".into(), SECRET.into());
    let top = layout.write_json(MEDIA_INDEX, &index).unwrap();
    let hit = scan(&layout, &top).unwrap();
    assert_eq!(hit.place, "the index");
    assert_eq!(hit.blob, top.digest);
}

#[test]
fn short_values_are_not_looked_for_and_forms_are_distinct() {
    assert!(Needle::of_secret("X", "short", &[]).is_none());
    let n = Needle::of_secret("X", "plainvalue", &["cGxhaW4=".into()]).unwrap();
    assert_eq!(n.forms, vec![b"plainvalue".to_vec(), b"cGxhaW4=".to_vec()]);
    let n = Needle::of_secret("X", "a\"b\\c&d<e>", &[]).unwrap();
    let forms: Vec<String> = n
        .forms
        .iter()
        .map(|f| String::from_utf8(f.clone()).unwrap())
        .collect();
    assert_eq!(
        forms,
        [
            "a\"b\\c&d<e>",
            "a\\\"b\\\\c&d<e>",
            "a\\\"b\\\\c\\u0026d\\u003ce\\u003e"
        ]
    );
    assert!(Scanner::new(&[]).unwrap().is_none());
}

#[test]
fn a_decompression_bomb_stops_at_the_cap() {
    let zeros = gzip(&vec![0u8; 4 << 20]);
    let mut capped = Capped::new(flate2::read::MultiGzDecoder::new(&zeros[..]), 1 << 20);
    let err = io::copy(&mut capped, &mut io::sink()).unwrap_err();
    assert!(err.to_string().contains("more than 1048576 bytes"), "{err}");
    let mut fits = Capped::new(flate2::read::MultiGzDecoder::new(&zeros[..]), 8 << 20);
    assert_eq!(io::copy(&mut fits, &mut io::sink()).unwrap(), 4 << 20);
}

#[cfg(feature = "zstd")]
#[test]
fn a_zstd_layer_is_decompressed() {
    let d = tempfile::tempdir().unwrap();
    let layout = Layout::create(d.path()).unwrap();
    let z = zstd::encode_all(format!("tar bytes {SECRET} more").as_bytes(), 3).unwrap();
    let top = image(&layout, "{}", &[(crate::oci::MEDIA_LAYER_ZSTD, z)]);
    assert_eq!(scan(&layout, &top).unwrap().place, "layer 1 of linux/amd64");
}

#[cfg(not(feature = "zstd"))]
#[test]
fn a_zstd_layer_without_the_feature_is_an_error_with_the_fix() {
    let d = tempfile::tempdir().unwrap();
    let layout = Layout::create(d.path()).unwrap();
    // A zstd frame header; the bytes after it are never read.
    let top = image(
        &layout,
        "{}",
        &[(
            crate::oci::MEDIA_LAYER_ZSTD,
            vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0],
        )],
    );
    let mut s = Scanner::new(&needles()).unwrap().unwrap();
    let err = format!("{:#}", s.scan(&layout, &top).unwrap_err());
    assert!(err.contains("layer 1 of linux/amd64"), "{err}");
    assert!(err.contains("--features zstd"), "{err}");
}

/// Hands out at most `piece` bytes a read.
struct Trickle<'a> {
    data: &'a [u8],
    piece: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn a_value_split_across_reads_is_found_and_bytes_are_counted() {
    let mut data = vec![b'x'; CHUNK - 5];
    data.extend_from_slice(SECRET.as_bytes());
    data.extend(vec![b'y'; 100]);
    for piece in [3, 4096, CHUNK, CHUNK + 64] {
        let mut s = Scanner::new(&needles()).unwrap().unwrap();
        let found = s.find_in(Trickle { data: &data, piece }).unwrap();
        assert_eq!(
            found.as_deref(),
            Some("secret-build-arg NPM_TOKEN"),
            "{piece}"
        );
        let clean = vec![b'z'; 3 * CHUNK];
        let mut s = Scanner::new(&needles()).unwrap().unwrap();
        assert_eq!(
            s.find_in(Trickle {
                data: &clean,
                piece
            })
            .unwrap(),
            None
        );
        assert_eq!(s.bytes, clean.len() as u64, "{piece}");
    }
}
