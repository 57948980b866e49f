//! What a Fulcio-style signing certificate says about who signed: its subject alternative
//! names (the workflow URI of a GitHub Actions job, or an e-mail address), the Fulcio extensions
//! (OIDs `1.3.6.1.4.1.57264.1.*`: the OIDC issuer, source repository, ref, commit, workflow…)
//! and its validity. Read with [`super::der`]; nothing here checks a signature or a chain.

use anyhow::{bail, Context, Result};

use super::der::{self, Reader};

/// The OID of the subject alternative name extension.
const SUBJECT_ALT_NAME: &str = "2.5.29.17";
/// Fulcio's arc: `1.3.6.1.4.1.57264.1.<n>`.
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";
/// The `otherName` SAN Fulcio uses for user names.
const FULCIO_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";
/// At most this many SANs and extensions are read.
const MAX_ENTRIES: usize = 64;
/// The longest identity value kept (a workflow URI is about 100 bytes).
const MAX_VALUE: usize = 4096;

/// The Fulcio extensions by number, and their names (sigstore/fulcio docs/oid-info.md).
/// 1 to 6 are raw strings (deprecated, GitHub-specific); 8 on are DER UTF8Strings.
pub const FULCIO_EXTENSIONS: &[(u32, &str)] = &[
    (1, "issuer (v1)"),
    (2, "github workflow trigger"),
    (3, "github workflow sha"),
    (4, "github workflow name"),
    (5, "github workflow repository"),
    (6, "github workflow ref"),
    (8, "issuer"),
    (9, "build signer uri"),
    (10, "build signer digest"),
    (11, "runner environment"),
    (12, "source repository uri"),
    (13, "source repository digest"),
    (14, "source repository ref"),
    (15, "source repository identifier"),
    (16, "source repository owner uri"),
    (17, "source repository owner identifier"),
    (18, "build config uri"),
    (19, "build config digest"),
    (20, "build trigger"),
    (21, "run invocation uri"),
    (22, "source repository visibility at signing"),
    (23, "deployment environment"),
];

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectName {
    Uri(String),
    Email(String),
    /// Fulcio's `otherName` user name.
    Username(String),
}

impl SubjectName {
    pub fn as_str(&self) -> &str {
        match self {
            SubjectName::Uri(s) | SubjectName::Email(s) | SubjectName::Username(s) => s,
        }
    }
}

/// What a certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub names: Vec<SubjectName>,
    /// Fulcio extensions present: `(n, value)` in certificate order.
    pub fulcio: Vec<(u32, String)>,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

impl Identity {
    /// The identity a verifier matches (`--certificate-identity`): the first SAN.
    pub fn subject(&self) -> Option<&str> {
        self.names.first().map(SubjectName::as_str)
    }

    /// The value of Fulcio extension `n`.
    pub fn extension(&self, n: u32) -> Option<&str> {
        self.fulcio
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    }

    /// The OIDC issuer (extension 8, else the deprecated 1).
    pub fn issuer(&self) -> Option<&str> {
        self.extension(8).or_else(|| self.extension(1))
    }

    /// The source repository URI (extension 12, else `https://github.com/` + the deprecated 5).
    pub fn repository(&self) -> Option<String> {
        self.extension(12)
            .map(str::to_string)
            .or_else(|| self.extension(5).map(|r| format!("https://github.com/{r}")))
    }

    /// The git ref built (extension 14, else the deprecated 6).
    pub fn git_ref(&self) -> Option<&str> {
        self.extension(14).or_else(|| self.extension(6))
    }

    /// The commit built (extension 13, else the deprecated 3).
    pub fn commit(&self) -> Option<&str> {
        self.extension(13).or_else(|| self.extension(3))
    }

    /// The workflow that ran: the build config URI (extension 18), else the signer's SAN URI.
    pub fn workflow(&self) -> Option<&str> {
        self.extension(18).or_else(|| {
            self.names.iter().find_map(|n| match n {
                SubjectName::Uri(u) => Some(u.as_str()),
                _ => None,
            })
        })
    }
}

/// The name of Fulcio extension `n`.
pub fn extension_name(n: u32) -> &'static str {
    FULCIO_EXTENSIONS
        .iter()
        .find(|(k, _)| *k == n)
        .map_or("unknown", |(_, name)| name)
}

/// True when a DER certificate's issuer and subject are the same name (a root CA).
pub fn is_self_issued(cert: &[u8]) -> Result<bool> {
    let mut outer = Reader::new(cert);
    let mut cert = Reader::new(outer.expect(der::SEQUENCE, "Certificate")?);
    let mut tbs = Reader::new(cert.expect(der::SEQUENCE, "TBSCertificate")?);
    tbs.optional(der::constructed(0))?;
    tbs.expect(der::INTEGER, "serial number")?;
    tbs.expect(der::SEQUENCE, "signature algorithm")?;
    let issuer = tbs.expect(der::SEQUENCE, "issuer")?;
    tbs.expect(der::SEQUENCE, "validity")?;
    let subject = tbs.expect(der::SEQUENCE, "subject")?;
    Ok(issuer == subject)
}

/// Reads the identity of a DER X.509 certificate.
pub fn identity(cert: &[u8]) -> Result<Identity> {
    let mut outer = Reader::new(cert);
    let certificate = outer.expect(der::SEQUENCE, "Certificate")?;
    if !outer.is_empty() {
        bail!("bytes after the certificate");
    }
    let mut cert = Reader::new(certificate);
    let mut tbs = Reader::new(cert.expect(der::SEQUENCE, "TBSCertificate")?);
    tbs.optional(der::constructed(0))?; // version
    tbs.expect(der::INTEGER, "serial number")?;
    tbs.expect(der::SEQUENCE, "signature algorithm")?;
    tbs.expect(der::SEQUENCE, "issuer")?;
    let mut validity = Reader::new(tbs.expect(der::SEQUENCE, "validity")?);
    let not_before = der::time(validity.element()?).context("notBefore")?;
    let not_after = der::time(validity.element()?).context("notAfter")?;
    tbs.expect(der::SEQUENCE, "subject")?;
    tbs.expect(der::SEQUENCE, "subject public key info")?;
    tbs.optional(der::primitive(1))?; // issuerUniqueID
    tbs.optional(der::primitive(2))?; // subjectUniqueID
    let mut identity = Identity {
        names: Vec::new(),
        fulcio: Vec::new(),
        not_before,
        not_after,
    };
    if let Some(explicit) = tbs.optional(der::constructed(3))? {
        let mut wrapper = Reader::new(explicit);
        let mut extensions = Reader::new(wrapper.expect(der::SEQUENCE, "extensions")?);
        let mut count = 0;
        while !extensions.is_empty() {
            count += 1;
            if count > MAX_ENTRIES {
                bail!("more than {MAX_ENTRIES} extensions");
            }
            let mut ext = Reader::new(extensions.expect(der::SEQUENCE, "extension")?);
            let oid = der::oid_text(ext.expect(der::OID, "extension id")?)?;
            ext.optional(der::BOOLEAN)?; // critical
            let value = ext.expect(der::OCTET_STRING, "extension value")?;
            read_extension(&oid, value, &mut identity)
                .with_context(|| format!("extension {oid}"))?;
        }
    }
    Ok(identity)
}

fn read_extension(oid: &str, value: &[u8], identity: &mut Identity) -> Result<()> {
    if oid == SUBJECT_ALT_NAME {
        identity.names = subject_alt_names(value)?;
        return Ok(());
    }
    let Some(n) = oid
        .strip_prefix(FULCIO_ARC)
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return Ok(());
    };
    let text = match n {
        1..=6 => value,
        _ => Reader::new(value).expect(der::UTF8_STRING, "Fulcio extension value")?,
    };
    identity.fulcio.push((n, checked_text(text)?));
    Ok(())
}

/// The URI, e-mail and Fulcio user-name entries of a GeneralNames value.
fn subject_alt_names(value: &[u8]) -> Result<Vec<SubjectName>> {
    let mut seq = Reader::new(value);
    let mut names = Reader::new(seq.expect(der::SEQUENCE, "GeneralNames")?);
    let mut out = Vec::new();
    while !names.is_empty() {
        if out.len() >= MAX_ENTRIES {
            bail!("more than {MAX_ENTRIES} subject alternative names");
        }
        let name = names.element()?;
        match name.tag {
            t if t == der::primitive(6) => out.push(SubjectName::Uri(checked_text(name.content)?)),
            t if t == der::primitive(1) => {
                out.push(SubjectName::Email(checked_text(name.content)?))
            }
            t if t == der::constructed(0) => {
                let mut other = Reader::new(name.content);
                let oid = der::oid_text(other.expect(der::OID, "otherName id")?)?;
                let mut explicit = Reader::new(other.expect(der::constructed(0), "otherName")?);
                let value = explicit.expect(der::UTF8_STRING, "otherName value")?;
                if oid == FULCIO_USERNAME {
                    out.push(SubjectName::Username(checked_text(value)?));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A value as text: UTF-8, not too long, and without control characters (it is printed).
fn checked_text(bytes: &[u8]) -> Result<String> {
    if bytes.len() > MAX_VALUE {
        bail!("a value of {} bytes", bytes.len());
    }
    let text = std::str::from_utf8(bytes).context("a value that is not UTF-8")?;
    if text.chars().any(char::is_control) {
        bail!(
            "a value with control characters: {:?}",
            text.escape_debug().to_string()
        );
    }
    Ok(text.to_string())
}
