//! Region names (GB/T 2260): what `validate` says of codes the list does not name.

use crate::util::*;

#[test]
fn validate_lists_well_formed_codes_without_a_name() {
    let fx = Fixture::new();
    let mut rows = good_reports(3);
    // 339999 is well formed (Zhejiang, six digits) but names no division; 330100 does.
    rows.push(report("R0004", "C0004", 1, "2025-02-01", "drug", "339999"));
    rows.push(report("R0005", "C0005", 1, "2025-02-02", "drug", "339999"));
    rows.push(report("R0006", "C0006", 1, "2025-02-03", "drug", "310116"));
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_ok();
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("region codes"))
        .collect();
    assert_eq!(
        lines,
        ["region codes with no GB/T 2260 name (shown as codes; cases): 339999 (2)"],
        "{}",
        r.stdout
    );
    // In a Chinese pipeline, the same line in Chinese.
    fx.pipeline("lang = \"zh\"", "");
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_ok();
    assert!(
        r.stdout
            .contains("GB/T 2260 中无名称的地区代码（按代码显示；病例数）：339999 (2)\n"),
        "{}",
        r.stdout
    );
}
