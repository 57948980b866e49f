//! Generated OCI layouts: deterministic images of incompressible layers.

use xtask::oci::layout::Layout;
use xtask::oci::{self, Descriptor, Digest, ImageConfig, Index, Manifest, RootFs};

/// Deterministic, incompressible bytes (xorshift).
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What a generated image looks like: per platform, its own layers (`(seed, size)`) on top of
/// `shared` layers every platform and image using the same seeds shares.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub name: String,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub shared: Vec<(u64, usize)>,
    /// Layers unique to this image, per platform (seed is mixed with the platform index).
    pub own: Vec<(u64, usize)>,
}

/// What was written for one image.
#[derive(Debug, Clone)]
pub struct WrittenImage {
    pub index: Descriptor,
    pub index_bytes: Vec<u8>,
    pub manifests: Vec<Descriptor>,
    /// Every blob (layers and configs) with its size.
    pub blobs: Vec<(Digest, u64)>,
}

/// Writes an image (index → platform manifests → config + layers) into `layout` and names it
/// `<name>:<version>`.
pub fn write_image(layout: &Layout, spec: &ImageSpec, version: &str) -> WrittenImage {
    let mut manifests = Vec::new();
    let mut blobs = Vec::new();
    for (pi, (os, arch)) in spec.platforms.iter().enumerate() {
        let mut layers = Vec::new();
        for (seed, size) in &spec.shared {
            layers.push(
                layout
                    .write_blob(oci::MEDIA_LAYER_GZIP, &pseudo_random(*seed, *size))
                    .unwrap(),
            );
        }
        for (seed, size) in &spec.own {
            let seed = seed.wrapping_mul(1000).wrapping_add(pi as u64 + 1);
            layers.push(
                layout
                    .write_blob(oci::MEDIA_LAYER_GZIP, &pseudo_random(seed, *size))
                    .unwrap(),
            );
        }
        let config = ImageConfig {
            architecture: arch.to_string(),
            os: os.to_string(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
            },
            config: Some(oci::ContainerConfig {
                labels: [(
                    "org.opencontainers.image.title".to_string(),
                    spec.name.clone(),
                )]
                .into_iter()
                .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let config_desc = layout.write_json(oci::MEDIA_CONFIG, &config).unwrap();
        blobs.push((config_desc.digest.clone(), config_desc.size));
        for l in &layers {
            blobs.push((l.digest.clone(), l.size));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_MANIFEST.into()),
            artifact_type: None,
            config: config_desc,
            layers,
            subject: None,
            annotations: Default::default(),
        };
        let mut desc = layout.write_json(oci::MEDIA_MANIFEST, &manifest).unwrap();
        desc.platform = Some(oci::DescriptorPlatform {
            architecture: arch.to_string(),
            os: os.to_string(),
            variant: None,
            os_version: None,
        });
        manifests.push(desc);
    }
    let index = Index::new(manifests.clone());
    let index_bytes = oci::to_bytes(&index);
    let desc = layout.write_blob(oci::MEDIA_INDEX, &index_bytes).unwrap();
    layout
        .set_ref(&format!("{}:{version}", spec.name), &desc)
        .unwrap();
    blobs.sort();
    blobs.dedup();
    WrittenImage {
        index: desc,
        index_bytes,
        manifests,
        blobs,
    }
}

/// A small two-platform image: one layer shared by every image, one of its own per platform.
pub fn small_image(name: &str, seed: u64) -> ImageSpec {
    ImageSpec {
        name: name.into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: vec![(7, 300_000)],
        own: vec![(seed, 200_000 + seed as usize * 1000)],
    }
}
