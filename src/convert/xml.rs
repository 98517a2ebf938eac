//! Safe reading of untrusted XML files, for E2B(R3) messages.
//!
//! The rules (README, "Real-world inputs"):
//!
//! - a file larger than the bound is refused before a byte of it is parsed;
//! - any `<!DOCTYPE …>` is refused, so no DTD is read: no external entity (XXE), no
//!   entity expansion (billion laughs), no external DTD fetch; the reader stops at it;
//! - only the five predefined entities and character references are expanded; any other
//!   `&name;` is an error;
//! - elements may nest at most [`MAX_DEPTH`] deep;
//! - the file must be UTF-8 (an optional byte-order mark is dropped).
//!
//! `quick-xml` itself never resolves entities or reads DTDs; these checks make a hostile
//! file fail with a clear error naming the file, rather than pass in part.
//!
//! Each element named `unit` (an ICSR) is built into a small tree ([`Node`], local names
//! without namespace prefixes) and handed to a callback with the line it starts on.

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{Error, Result};

/// Deepest element nesting accepted (E2B(R3) messages nest about 20 deep).
pub const MAX_DEPTH: usize = 256;

/// An element: its local name, attributes (local names), children and text.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
    pub text: String,
    /// The 1-based line of its start tag.
    pub line: u64,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first node down a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, name| n.child(name))
    }

    /// The first descendant (depth first) named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// `code/@code` of this element.
    pub fn code(&self) -> Option<&str> {
        self.child("code").and_then(|c| c.attr("code"))
    }

    /// Its text, trimmed; `None` when empty.
    pub fn text(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }
}

fn local(name: &[u8]) -> String {
    let local = match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(local).into_owned()
}

/// Read `path` and call `on_unit` for each element named `unit`. Returns how many there were.
pub fn read_units(
    path: &Path,
    max_bytes: u64,
    unit: &str,
    mut on_unit: impl FnMut(Node),
) -> Result<u64> {
    let fail = |msg: String| Error::input(path, msg);
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size > max_bytes {
        return Err(fail(format!(
            "the file is {size} bytes, above the bound of {max_bytes} bytes for one XML file (max_xml_bytes); it was not read"
        )));
    }
    // Read at most one byte past the bound, in case the file grew since its size was taken.
    let mut bytes = Vec::with_capacity(size as usize);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max_bytes + 1), &mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(fail(format!(
            "the file grew past the bound of {max_bytes} bytes for one XML file while it was read"
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| fail(format!("not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut reader = Reader::from_str(text);
    let mut lines = LineAt::default();
    let mut stack: Vec<Node> = Vec::new();
    let mut depth = 0usize;
    let mut units = 0u64;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = lines.line(text, reader.error_position() as usize);
            fail(format!("line {at}: malformed XML: {e}"))
        })?;
        match event {
            Event::DocType(_) => {
                let at = lines.line(text, before);
                return Err(fail(format!(
                    "line {at}: a DOCTYPE declaration; DTDs are refused (no external entities, no entity expansion), so the file was not read further"
                )));
            }
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let at = lines.line(text, before);
                    return Err(fail(format!(
                        "line {at}: elements nested more than {MAX_DEPTH} deep"
                    )));
                }
                let name = local(e.name().as_ref());
                if !stack.is_empty() || name == unit {
                    let line = lines.line(text, before);
                    stack.push(node(&e, name, line, path)?);
                }
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                if !stack.is_empty() || name == unit {
                    let line = lines.line(text, before);
                    let n = node(&e, name, line, path)?;
                    close(&mut stack, n, &mut units, &mut on_unit);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some(n) = stack.pop() {
                    close(&mut stack, n, &mut units, &mut on_unit);
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t
                        .decode()
                        .map_err(|e| fail(format!("text is not UTF-8: {e}")))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match &*r {
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"amp" => Some('&'),
                        b"apos" => Some('\''),
                        b"quot" => Some('"'),
                        _ => None,
                    },
                    Err(_) => None,
                };
                let Some(c) = resolved else {
                    let at = lines.line(text, before);
                    return Err(fail(format!(
                        "line {at}: undefined entity `&{};` (no DTD is read: only the five predefined entities and character references are allowed)",
                        String::from_utf8_lossy(r.as_ref())
                    )));
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(fail("the file ends inside an element".to_string()));
    }
    Ok(units)
}

/// Attach a finished node to its parent, or hand a finished unit to the callback.
fn close(stack: &mut [Node], n: Node, units: &mut u64, on_unit: &mut impl FnMut(Node)) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(n),
        None => {
            *units += 1;
            on_unit(n);
        }
    }
}

fn node(e: &BytesStart<'_>, name: String, line: u64, path: &Path) -> Result<Node> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| {
            Error::input(path, format!("line {line}: malformed attribute: {err}"))
        })?;
        let value = a.unescape_value().map_err(|err| {
            Error::input(
                path,
                format!("line {line}: attribute `{}`: {err} (no DTD is read: only the five predefined entities and character references are allowed)", local(a.key.as_ref())),
            )
        })?;
        attrs.push((local(a.key.as_ref()), value.into_owned()));
    }
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    })
}

/// Line numbers of increasing byte offsets, counted incrementally.
#[derive(Default)]
struct LineAt {
    pos: usize,
    line: u64,
}

impl LineAt {
    fn line(&mut self, text: &str, at: usize) -> u64 {
        let at = at.min(text.len());
        if at < self.pos {
            self.pos = 0;
            self.line = 0;
        }
        self.line += text.as_bytes()[self.pos..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.pos = at;
        self.line + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(xml: &str) -> Result<Vec<Node>> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("m.xml");
        std::fs::write(&path, xml).expect("write");
        let mut out = Vec::new();
        read_units(&path, 1 << 20, "unit", |n| out.push(n))?;
        Ok(out)
    }

    #[test]
    fn units_with_local_names_lines_and_entities() {
        let xml = "<?xml version=\"1.0\"?>\n<r xmlns:h=\"urn:hl7-org:v3\">\n<h:unit a=\"x &amp; y\">\n  <h:name>A &lt;&#65;&#x42;&gt; <![CDATA[c]]></h:name><empty/>\n</h:unit>\n<unit/></r>";
        let u = units(xml).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].line, 3);
        assert_eq!(u[0].attr("a"), Some("x & y"));
        assert_eq!(u[0].child("name").and_then(Node::text), Some("A <AB> c"));
        assert!(u[0].child("empty").is_some());
        assert_eq!(u[1].line, 6);
    }

    #[test]
    fn hostile_constructs_are_errors() {
        let e = units("<!DOCTYPE r [<!ENTITY e \"x\">]><r><unit>&e;</unit></r>").unwrap_err();
        assert!(
            e.to_string().contains("line 1: a DOCTYPE declaration"),
            "{e}"
        );
        let e = units("<r><unit>&e;</unit></r>").unwrap_err();
        assert!(e.to_string().contains("undefined entity `&e;`"), "{e}");
        let e = units("<r><unit a=\"&e;\"/></r>").unwrap_err();
        assert!(e.to_string().contains("attribute `a`"), "{e}");
        let e = units("<r><unit></r>").unwrap_err();
        assert!(e.to_string().contains("malformed XML"), "{e}");
    }
}
