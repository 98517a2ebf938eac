//! Tests of the bounded readers.

use super::quoted::Problem;
use super::*;
use proptest::prelude::*;
use std::io::Cursor;

/// A record's line and fields, or a refused row's line and problem.
type Item = Result<(u64, Vec<String>), (u64, Problem)>;

/// Every item of a CSV text: `Ok((line, fields))` for a record, `Err((line, problem))`
/// for a refused row.
fn items(text: &[u8], fields: Option<usize>, max: usize) -> Vec<Item> {
    items_in_blocks(text, fields, max, BUF_BYTES)
}

/// [`items`], reading the file in blocks of `block` bytes.
fn items_in_blocks(text: &[u8], fields: Option<usize>, max: usize, block: usize) -> Vec<Item> {
    let mut r = CsvRecords::with_bounds(Cursor::new(text.to_vec()), max, block);
    let mut all = Vec::new();
    while let Some(n) = r.next(fields).unwrap() {
        all.push(match n {
            Next::Record { line } => Ok((
                line,
                (0..r.len())
                    .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                    .collect(),
            )),
            Next::Refused(x) => Err((x.line, x.problem)),
        });
    }
    all
}

fn rec(line: u64, fields: &[&str]) -> Item {
    Ok((line, fields.iter().map(|s| s.to_string()).collect()))
}

#[test]
fn records_with_their_lines_in_any_line_ending() {
    for eol in ["\n", "\r\n", "\r"] {
        let text = ["a,b", "1, 2 ", "", "3,\"x", "y\"", "4,5"].join(eol);
        let got = items(text.as_bytes(), Some(2), 1 << 20);
        let inner = format!("x{eol}y");
        assert_eq!(
            got,
            vec![
                rec(1, &["a", "b"]),
                rec(2, &["1", "2"]),
                rec(4, &["3", &inner]),
                rec(6, &["4", "5"])
            ],
            "line ending {eol:?}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let got = items(b"\xef\xbb\xbf\"a\",b\n1,2\n", Some(2), 1 << 20);
    assert_eq!(got, vec![rec(1, &["a", "b"]), rec(2, &["1", "2"])]);
}

/// A stray quote swallows nothing: its line is refused, the next lines are rows.
#[test]
fn a_quote_left_open_is_refused_on_its_line_and_reading_resumes() {
    let text = b"a,b\n1,2\n3,\"x\n4,5\n6,7\n";
    let got = items(text, Some(2), 1 << 20);
    assert_eq!(
        got,
        vec![
            rec(1, &["a", "b"]),
            rec(2, &["1", "2"]),
            Err((3, Problem::QuoteToEnd)),
            rec(4, &["4", "5"]),
            rec(5, &["6", "7"]),
        ]
    );
    // Closed again further on, into a record with the wrong field count: the line
    // with the closing quote is read as a row of its own (its quote is text there).
    let text = b"a,b\n1,\"x\n4,5\n6,7\",8\n9,10";
    let got = items(text, Some(2), 1 << 20);
    assert_eq!(
        got,
        vec![
            rec(1, &["a", "b"]),
            Err((
                2,
                Problem::QuoteFieldCount {
                    lines: 3,
                    fields: 3
                }
            )),
            rec(3, &["4", "5"]),
            rec(4, &["6", "7\"", "8"]),
            rec(5, &["9", "10"]),
        ]
    );
    // With the right field count, it is a quoted field with line breaks: one row.
    let got = items(b"a,b\n1,\"x\n4,5\n6,\"7\n8,9", Some(2), 1 << 20);
    assert_eq!(
        got[1..],
        [rec(2, &["1", "x\n4,5\n6,7"]), rec(5, &["8", "9"])]
    );
    // At the end of a file without a final line break, and in a CRLF file.
    let got = items(b"a,b\r\n1,2\r\n3,\"x", Some(2), 1 << 20);
    assert_eq!(got[2], Err((3, Problem::QuoteToEnd)));
    assert_eq!(got.len(), 3);
    let got = items(b"a,b\r\n3,\"x\r\n4,5\r\n", Some(2), 1 << 20);
    assert_eq!(
        got[1..],
        [Err((2, Problem::QuoteToEnd)), rec(3, &["4", "5"])]
    );
}

/// The bound holds for every shape of line; a long line is one refused row.
#[test]
fn a_record_past_the_bound_is_one_refused_row() {
    let max = 64;
    let commas = ",".repeat(1000);
    let plain = "x".repeat(1000);
    let quoted = format!("\"{}\"", "y".repeat(1000));
    for long in [&commas, &plain, &quoted] {
        let text = format!("a,b\n1,2\n{long}\n3,4\n");
        let got = items(text.as_bytes(), Some(2), max);
        assert_eq!(
            got,
            vec![
                rec(1, &["a", "b"]),
                rec(2, &["1", "2"]),
                Err((3, Problem::TooLong)),
                rec(4, &["3", "4"])
            ],
            "{}",
            &long[..3]
        );
        let mut r = CsvRecords::with_bounds(Cursor::new(text.into_bytes()), max, BUF_BYTES);
        r.next(None).unwrap();
        r.next(Some(2)).unwrap();
        let Some(Next::Refused(x)) = r.next(Some(2)).unwrap() else {
            panic!("refused")
        };
        assert!(x.found().ends_with('…'), "{}", x.found());
        assert!(x.found().chars().count() <= 201);
        assert!(
            r.held().0 <= max && r.held().1 <= max + 1,
            "memory stays bounded"
        );
    }
    // Just under the bound is a row (the line break not counted).
    let ok = "x".repeat(60);
    let got = items(format!("a\n{ok}\n").as_bytes(), Some(1), max);
    assert_eq!(got[1], rec(2, &[&ok]));
    // A quote open past the bound over several lines: its first line is refused.
    let many = format!("a,b\n1,\"x\n{}3,4\n", "y\n".repeat(100));
    let got = items(many.as_bytes(), Some(2), max);
    assert_eq!(got[1], Err((2, Problem::QuoteTooLong)));
    assert_eq!(got[2], rec(3, &["y"]));
    assert_eq!(got.last().unwrap(), &rec(103, &["3", "4"]));
    assert_eq!(got.len(), 103, "one item per line");
}

#[test]
fn lines_in_any_line_ending_bounded() {
    let text = b"h$1\r\na$b\rc\n\n".to_vec();
    let mut extra = text.clone();
    extra.extend_from_slice(&[b'z'; 100]);
    extra.extend_from_slice(b"\ntail");
    let mut lines = Lines::with_bounds(Cursor::new(extra), 10, BUF_BYTES);
    let mut buf = Vec::new();
    let mut got = Vec::new();
    while let Some(l) = lines.next_line(&mut buf).unwrap() {
        got.push((l, String::from_utf8_lossy(&buf).into_owned()));
    }
    let line = |number, complete, too_long| Line {
        number,
        complete,
        too_long,
    };
    assert_eq!(
        got,
        vec![
            (line(1, true, false), "h$1".to_string()),
            (line(2, true, false), "a$b".to_string()),
            (line(3, true, false), "c".to_string()),
            (line(4, true, false), String::new()),
            (line(5, true, true), "z".repeat(10)),
            (line(6, false, false), "tail".to_string()),
        ]
    );
}

/// Lines built from a few shapes, in any line ending, with stray quotes and long lines.
fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("1,2".to_string()),
        Just(" 3 , 4 ".to_string()),
        Just(String::new()),
        Just("5,\"x".to_string()),
        Just("\"6\",\"y\"\"z\"".to_string()),
        Just("7,8,9".to_string()),
        Just("a\"b,c".to_string()),
        Just(",".repeat(40)),
        Just("w".repeat(50)),
    ];
    let eol = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (proptest::collection::vec((line, eol), 0..30), any::<bool>()).prop_map(|(lines, last)| {
        let mut text = String::new();
        for (i, (l, e)) in lines.iter().enumerate() {
            text.push_str(l);
            if last || i + 1 < lines.len() {
                text.push_str(e);
            }
        }
        text.into_bytes()
    })
}

proptest! {
    /// However the file is cut into blocks, the same records and refused rows come out;
    /// their lines increase and stay within the file; and a file without quotes gives
    /// one item for each line that is not blank.
    #[test]
    fn items_do_not_depend_on_blocks_and_cover_the_lines(text in text_strategy()) {
        let whole = items_in_blocks(&text, Some(2), 32, 1 << 16);
        for block in [1, 2, 3, 5, 16] {
            prop_assert_eq!(&items_in_blocks(&text, Some(2), 32, block), &whole, "block {}", block);
        }
        let mut ends = crate::files::LineEnds::new();
        ends.feed_all(&text);
        let physical = ends.line();
        let lines: Vec<u64> = whole
            .iter()
            .map(|i| match i { Ok((l, _)) | Err((l, _)) => *l })
            .collect();
        prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "{:?}", lines);
        prop_assert!(lines.iter().all(|l| *l >= 1 && *l <= physical));
        if !text.contains(&b'"') {
            let text = String::from_utf8(text.clone()).unwrap();
            let expected: Vec<u64> = text
                .replace("\r\n", "\n")
                .split(['\n', '\r'])
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, _)| i as u64 + 1)
                .collect();
            prop_assert_eq!(lines, expected);
        }
    }

    /// Physical lines come out the same in any block size, numbered 1, 2, 3…
    #[test]
    fn lines_do_not_depend_on_blocks(text in text_strategy()) {
        let read = |block: usize| {
            let mut lines = Lines::with_bounds(Cursor::new(text.clone()), 32, block);
            let mut buf = Vec::new();
            let mut all = Vec::new();
            while let Some(l) = lines.next_line(&mut buf).unwrap() {
                all.push((l, buf.clone()));
            }
            all
        };
        let whole = read(1 << 16);
        for block in [1, 2, 3, 5, 16] {
            prop_assert_eq!(&read(block), &whole, "block {}", block);
        }
        let numbers: Vec<u64> = whole.iter().map(|(l, _)| l.number).collect();
        prop_assert_eq!(numbers, (1..=whole.len() as u64).collect::<Vec<_>>());
    }
}
