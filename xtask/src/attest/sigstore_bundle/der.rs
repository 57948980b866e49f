//! A small DER reader: just enough of ASN.1's distinguished encoding to walk an X.509
//! certificate to its validity, its subject alternative names and its extensions. Single-byte
//! tags and definite lengths only (DER allows nothing else for what is read here); every length
//! is checked against what is left, so a hostile certificate can only make it fail.

use anyhow::{bail, Result};

pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0c;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
/// `[n]` context-specific, constructed (EXPLICIT tags, `otherName`).
pub const fn constructed(n: u8) -> u8 {
    0xa0 | n
}
/// `[n]` context-specific, primitive (IMPLICIT IA5String names).
pub const fn primitive(n: u8) -> u8 {
    0x80 | n
}

/// One element: its tag and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads elements one after another from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element.
    pub fn element(&mut self) -> Result<Tlv<'a>> {
        let [tag, first, rest @ ..] = self.rest else {
            bail!("truncated DER: an element ends early");
        };
        if tag & 0x1f == 0x1f {
            bail!("DER tag {tag:#04x} uses the multi-byte form, which nothing here has");
        }
        let (len, rest) = match *first {
            n if n < 0x80 => (n as usize, rest),
            0x80 => bail!("DER does not allow indefinite lengths"),
            n => {
                let count = (n & 0x7f) as usize;
                if count > 4 || rest.len() < count {
                    bail!("DER length of {count} bytes is too long or truncated");
                }
                let len = rest[..count]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize);
                (len, &rest[count..])
            }
        };
        if len > rest.len() {
            bail!(
                "truncated DER: an element of {len} bytes where {} are left",
                rest.len()
            );
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Ok(Tlv { tag: *tag, content })
    }

    /// The content of the next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8]> {
        let tlv = self.element()?;
        if tlv.tag != tag {
            bail!(
                "{what}: DER tag {:#04x} where {tag:#04x} was expected",
                tlv.tag
            );
        }
        Ok(tlv.content)
    }

    /// The content of the next element if it has `tag`; else nothing is read.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>> {
        if self.peek() == Some(tag) {
            Ok(Some(self.element()?.content))
        } else {
            Ok(None)
        }
    }
}

/// An OBJECT IDENTIFIER's content as dotted text (`1.3.6.1.4.1.57264.1.12`).
pub fn oid_text(content: &[u8]) -> Result<String> {
    if content.is_empty() || content.len() > 64 {
        bail!("an OID of {} bytes", content.len());
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            bail!("an OID arc overflows");
        }
        value = (value << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        } else if i + 1 == content.len() {
            bail!("an OID ends inside an arc");
        }
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut text = format!("{a}.{b}");
    for arc in &arcs[1..] {
        text.push_str(&format!(".{arc}"));
    }
    Ok(text)
}

/// A UTCTime or GeneralizedTime (`Z` form, whole seconds, as RFC 5280 requires) as seconds
/// since the Unix epoch.
pub fn time(tlv: Tlv<'_>) -> Result<i64> {
    let text = std::str::from_utf8(tlv.content)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit() || b == b'Z'))
        .ok_or_else(|| anyhow::anyhow!("a certificate time that is not digits and Z"))?;
    let digits = text
        .strip_suffix('Z')
        .ok_or_else(|| anyhow::anyhow!("certificate time {text:?} is not in UTC (Z)"))?;
    let (year, rest) = match (tlv.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: i16 = digits[..2].parse()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => (digits[..4].parse()?, &digits[4..]),
        _ => bail!("certificate time {text:?} is neither YYMMDDHHMMSSZ nor YYYYMMDDHHMMSSZ"),
    };
    let two = |i: usize| -> Result<i8> { Ok(rest[i..i + 2].parse()?) };
    let civil = jiff::civil::DateTime::new(year, two(0)?, two(2)?, two(4)?, two(6)?, two(8)?, 0)
        .map_err(|e| anyhow::anyhow!("certificate time {text:?}: {e}"))?;
    let zoned = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| anyhow::anyhow!("certificate time {text:?}: {e}"))?;
    Ok(zoned.timestamp().as_second())
}

#[cfg(test)]
mod tests;
