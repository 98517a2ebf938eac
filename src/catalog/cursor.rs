//! The queue's opaque cursor: which period (and which publish of it), which query, and
//! where in the query's order the next page starts. URL-safe base64 of a small JSON
//! object; a cursor of another query or of a republished period is refused, never
//! silently misread.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{CatalogError, Result};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    #[serde(rename = "p")]
    pub period: String,
    #[serde(rename = "g")]
    pub generation: String,
    #[serde(rename = "q")]
    pub query: String,
    /// Position in the query's sort order of the first alert of the next page.
    #[serde(rename = "i")]
    pub position: usize,
}

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl Cursor {
    pub fn encode(&self) -> String {
        ENGINE.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }

    pub fn decode(text: &str) -> Result<Cursor> {
        let bad = || CatalogError::Invalid {
            field: "cursor",
            message: format!("not a cursor of this app, found `{}`", excerpt(text)),
        };
        let bytes = ENGINE.decode(text.trim()).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// A short digest of `text` (16 hex digits of SHA-256): the same in every process.
pub fn digest(text: &str) -> String {
    let h = Sha256::digest(text.as_bytes());
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let c = Cursor {
            period: "2025-Q3".into(),
            generation: "abc".into(),
            query: digest("x"),
            position: 50,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let e = Cursor::decode("not a cursor!").unwrap_err().to_string();
        assert_eq!(e, "cursor: not a cursor of this app, found `not a cursor!`");
        assert_ne!(digest("a"), digest("b"));
        assert_eq!(digest("a").len(), 16);
    }
}
