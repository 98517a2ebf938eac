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
//! Well-formedness is checked here, as quick-xml checks only part of it (matching end
//! names): exactly one root element and nothing but markup and white space outside it,
//! every element closed by the end of the file (a truncated file is not well-formed),
//! only legal XML characters (no NUL or other control character but tab, line feed and
//! carriage return, as text or as a character reference), and every namespace prefix of
//! an element or attribute declared by an `xmlns:` attribute of it or of an ancestor.
//! A file that is not well-formed is [`Malformed`], with the line and column of its
//! first fault and the lines of the units it holds: the caller rejects the whole file.
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

/// Why a file is not well-formed XML: its first fault, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line and column (in characters) of the fault.
    pub line: u64,
    pub column: u64,
    pub problem: String,
    /// The lines of the start tags of the units the file holds (found by their name in
    /// the text, as the file cannot be parsed): what the caller rejects with it.
    pub unit_lines: Vec<u64>,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.problem
        )
    }
}

/// Whether `c` may appear in an XML 1.0 document (production `Char`). A `&str` holds no
/// surrogates, so only the control characters and U+FFFE, U+FFFF are left out.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// An element open at this point of the file: its qualified name, the line of its start
/// tag, and the namespace prefixes it declares.
struct Open {
    name: String,
    line: u64,
    declared: Vec<Vec<u8>>,
}

/// Read `path` and call `on_unit` for each element named `unit`. Returns how many there
/// were, or why the file is not well-formed (then the units already handed over belong to
/// a file that the caller rejects as a whole). A hostile construct (DTD, undefined
/// entity, oversize file, deep nesting) or a file that is not UTF-8 is an error.
pub fn read_units(
    path: &Path,
    max_bytes: u64,
    unit: &str,
    mut on_unit: impl FnMut(Node),
) -> Result<std::result::Result<u64, Malformed>> {
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
    let malformed = |at: usize, problem: String| {
        let (line, column) = line_col(text, at);
        Ok(Err(Malformed {
            line,
            column,
            problem,
            unit_lines: start_tag_lines(text, unit),
        }))
    };
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return malformed(
            at,
            format!(
                "the character U+{:04X}, which XML does not allow (only tab, line feed and carriage return below U+0020)",
                c as u32
            ),
        );
    }

    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut lines = LineAt::default();
    let mut stack: Vec<Node> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut roots = 0u32;
    let mut units = 0u64;
    loop {
        let before = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => return malformed(reader.error_position() as usize, e.to_string()),
        };
        match event {
            Event::DocType(_) => {
                let at = lines.line(text, before);
                return Err(fail(format!(
                    "line {at}: a DOCTYPE declaration; DTDs are refused (no external entities, no entity expansion), so the file was not read further"
                )));
            }
            Event::Start(e) | Event::Empty(e) if open.is_empty() && roots > 0 => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                return malformed(
                    before,
                    format!("a second root element `{name}` (a well-formed file has exactly one)"),
                );
            }
            Event::Start(e) => {
                roots += u32::from(open.is_empty());
                if open.len() >= MAX_DEPTH {
                    let at = lines.line(text, before);
                    return Err(fail(format!(
                        "line {at}: elements nested more than {MAX_DEPTH} deep"
                    )));
                }
                let line = lines.line(text, before);
                let declared = match declared_prefixes(&e, &open) {
                    Ok(d) => d,
                    Err(problem) => return malformed(before, problem),
                };
                open.push(Open {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    line,
                    declared,
                });
                let name = local(e.name().as_ref());
                if !stack.is_empty() || name == unit {
                    stack.push(node(&e, name, line, path)?);
                }
            }
            Event::Empty(e) => {
                roots += u32::from(open.is_empty());
                if let Err(problem) = declared_prefixes(&e, &open) {
                    return malformed(before, problem);
                }
                let name = local(e.name().as_ref());
                if !stack.is_empty() || name == unit {
                    let line = lines.line(text, before);
                    let n = node(&e, name, line, path)?;
                    close(&mut stack, n, &mut units, &mut on_unit);
                }
            }
            Event::End(_) => {
                open.pop();
                if let Some(n) = stack.pop() {
                    close(&mut stack, n, &mut units, &mut on_unit);
                }
            }
            Event::Text(t) => {
                if open.is_empty() {
                    if !t.iter().all(u8::is_ascii_whitespace) {
                        let skip = t.iter().take_while(|b| b.is_ascii_whitespace()).count();
                        return malformed(
                            before + skip,
                            "text outside the root element".to_string(),
                        );
                    }
                } else if let Some(top) = stack.last_mut() {
                    let s = t
                        .decode()
                        .map_err(|e| fail(format!("text is not UTF-8: {e}")))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if open.is_empty() {
                    return malformed(before, "a CDATA section outside the root element".into());
                }
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::GeneralRef(r) => {
                if open.is_empty() {
                    return malformed(before, "a reference outside the root element".into());
                }
                let resolved = if r.starts_with(b"#") {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => Some(c),
                        _ => {
                            return malformed(
                                before,
                                format!(
                                    "the character reference `&{};`, which is not a character XML allows",
                                    String::from_utf8_lossy(r.as_ref())
                                ),
                            )
                        }
                    }
                } else {
                    match &*r {
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"amp" => Some('&'),
                        b"apos" => Some('\''),
                        b"quot" => Some('"'),
                        _ => None,
                    }
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
    if let Some(o) = open.last() {
        return malformed(
            text.len(),
            format!(
                "the file ends inside the element `{}` opened on line {} (a truncated file?)",
                o.name, o.line
            ),
        );
    }
    if roots == 0 {
        return malformed(text.len(), "no root element".to_string());
    }
    Ok(Ok(units))
}

/// The namespace prefixes that a start tag declares (`xmlns:p="…"`), after checking that
/// the prefixes of its name and attributes are declared by it or by an open ancestor.
/// `xml` is always declared; `xmlns` names declarations.
fn declared_prefixes(
    e: &BytesStart<'_>,
    open: &[Open],
) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut declared = Vec::new();
    let mut used: Vec<(Vec<u8>, String)> = Vec::new();
    let prefix = |name: &[u8]| {
        name.iter()
            .position(|b| *b == b':')
            .map(|i| name[..i].to_vec())
    };
    if let Some(p) = prefix(e.name().as_ref()) {
        used.push((p, "element".to_string()));
    }
    for a in e.attributes() {
        let a = a.map_err(|err| format!("malformed attribute: {err}"))?;
        let key = a.key.as_ref();
        match prefix(key) {
            Some(p) if p == b"xmlns" => declared.push(key[6..].to_vec()),
            Some(p) => used.push((
                p,
                format!(
                    "attribute `{}` of the element",
                    String::from_utf8_lossy(key)
                ),
            )),
            None => {}
        }
    }
    for (p, what) in used {
        let known = p == b"xml"
            || declared.contains(&p)
            || open.iter().rev().any(|o| o.declared.contains(&p));
        if !known {
            return Err(format!(
                "the namespace prefix `{}` of the {what} `{}` is not declared (no `xmlns:{}` on it or an enclosing element)",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(e.name().as_ref()),
                String::from_utf8_lossy(&p),
            ));
        }
    }
    Ok(declared)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, at: usize) -> (u64, u64) {
    let bytes = &text.as_bytes()[..at.min(text.len())];
    let line = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&bytes[start..]).chars().count() as u64 + 1;
    (line, column)
}

/// The lines of the start tags named `unit` (with or without a prefix) in a text that
/// cannot be parsed: `<unit>`, `<unit …>`, `<p:unit …>`.
fn start_tag_lines(text: &str, unit: &str) -> Vec<u64> {
    let b = text.as_bytes();
    let mut lines = LineAt::default();
    let mut out = Vec::new();
    for (at, _) in text.match_indices(unit) {
        let after = b.get(at + unit.len());
        if !after.is_some_and(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/') {
            continue;
        }
        let mut i = at;
        if i > 0 && b[i - 1] == b':' {
            i -= 1;
            while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b"_-.".contains(&b[i - 1])) {
                i -= 1;
            }
        }
        if i > 0 && b[i - 1] == b'<' {
            out.push(lines.line(text, at));
        }
    }
    out
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
        read_units(&path, 1 << 20, "unit", |n| out.push(n))?
            .map_err(|m| Error::input(&path, format!("malformed: {m}")))?;
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
    }

    fn malformed(xml: &str) -> Malformed {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("m.xml");
        std::fs::write(&path, xml).expect("write");
        read_units(&path, 1 << 20, "unit", |_| {})
            .expect("no hostile construct")
            .expect_err("not well-formed")
    }

    #[test]
    fn well_formedness_faults_are_found_with_their_line_and_column() {
        let ok = "<?xml version=\"1.0\"?>\n<!-- c -->\n<r xmlns:h=\"urn:x\" xml:lang=\"en\"><h:unit h:a=\"1\"/></r>\n";
        assert_eq!(units(ok).unwrap().len(), 1);
        // Truncated after its first unit: the root is never closed.
        let m = malformed("<r>\n<unit/>\n<unit>\n</unit>\n");
        assert_eq!((m.line, m.column), (5, 1));
        assert_eq!(
            m.problem,
            "the file ends inside the element `r` opened on line 1 (a truncated file?)"
        );
        assert_eq!(m.unit_lines, [2, 3]);
        let m = malformed("<r><unit/></r>\n<r2/>");
        assert_eq!((m.line, m.column), (2, 1));
        assert!(
            m.problem.starts_with("a second root element `r2`"),
            "{}",
            m.problem
        );
        let m = malformed("<r><unit>a\u{0}b</unit></r>");
        assert_eq!((m.line, m.column), (1, 11));
        assert!(
            m.problem.starts_with("the character U+0000"),
            "{}",
            m.problem
        );
        let m = malformed("<r><unit>&#1;</unit></r>");
        assert!(m.problem.contains("`&#1;`"), "{}", m.problem);
        let m = malformed("<r>\n  <h:unit/></r>");
        assert_eq!((m.line, m.column), (2, 3));
        assert!(
            m.problem
                .starts_with("the namespace prefix `h` of the element `h:unit` is not declared"),
            "{}",
            m.problem
        );
        assert_eq!(m.unit_lines, [2]);
        let m = malformed("<r xmlns:h=\"u\"><unit x:a=\"1\"/></r>");
        assert!(m.problem.contains("attribute `x:a`"), "{}", m.problem);
        // A prefix declared on a sibling is out of scope.
        let m = malformed("<r><a xmlns:h=\"u\"/><h:unit/></r>");
        assert!(m.problem.contains("prefix `h`"), "{}", m.problem);
        let m = malformed("<r><unit></r>");
        assert!(m.problem.contains("unit"), "{}", m.problem);
        let m = malformed("<r/>tail");
        assert_eq!(m.problem, "text outside the root element");
        let m = malformed("  ");
        assert_eq!(m.problem, "no root element");
    }
}
