//! Column names and types of every input and output table.
//!
//! This is the one place where a column's name is spelled out; every other module uses
//! these constants. Input tables are described by [`TableSpec`]s, which `ingest` checks
//! each row against; output columns are listed in the README with their types.

/// Column names, shared by input and output tables.
/// Field names of an alert that are not table columns elsewhere, as `alerts.jsonl`,
/// `alerts.csv` and `alerts.parquet` name them.
pub mod alert {
    pub const ALERT_ID: &str = "alert_id";
    pub const KIND: &str = "kind";
    pub const PRIORITY: &str = "priority";
    pub const STATUS: &str = "status";
    pub const DUE_DATE: &str = "due_date";
    pub const OVERDUE: &str = "overdue";
    pub const FIRST_PERIOD: &str = "first_period";
    pub const RULE: &str = "rule";
    pub const THRESHOLD: &str = "threshold";
    pub const VALUE: &str = "value";
    pub const NUMBERS: &str = "numbers";
    pub const MESSAGE_EN: &str = "message_en";
    pub const MESSAGE_ZH: &str = "message_zh";
    /// The signal topic of the alert (nullable Int64) and its state (nullable text).
    pub const TOPIC_ID: &str = "topic_id";
    pub const TOPIC_STATE: &str = "topic_state";
}

/// Columns of `signal_log.parquet` that are not table columns elsewhere (the others are
/// [`col`] and [`alert`] names: `period`, `class`, `product_id`, `product_name`, `event`,
/// `region`, `region_name`, `alert_id`, `topic_id`).
pub mod topic {
    pub const STATE: &str = "state";
    pub const OUTCOME: &str = "outcome";
    pub const OPENED_DATE: &str = "opened_date";
    pub const DECIDED_DATE: &str = "decided_date";
    pub const DECIDED_BY: &str = "decided_by";
    pub const ASSIGNEE: &str = "assignee";
    pub const LAST_COMMENT: &str = "last_comment";
    pub const EVIDENCE_A: &str = "evidence_a";
    pub const EVIDENCE_EB05: &str = "evidence_eb05";
}

pub mod col {
    // reports
    pub const REPORT_ID: &str = "report_id";
    pub const CASE_ID: &str = "case_id";
    pub const VERSION: &str = "version";
    pub const RECEIVED_DATE: &str = "received_date";
    pub const CLASS: &str = "class";
    pub const REGION: &str = "region";
    pub const REPORTER_TYPE: &str = "reporter_type";
    pub const SENTINEL: &str = "sentinel";
    pub const IS_NEW: &str = "is_new";
    pub const IS_SERIOUS: &str = "is_serious";
    pub const FATAL: &str = "fatal";
    pub const SEX: &str = "sex";
    pub const AGE_YEARS: &str = "age_years";
    // report_products
    pub const PRODUCT_ID: &str = "product_id";
    pub const ROLE: &str = "role";
    pub const BATCH: &str = "batch";
    // report_events
    pub const EVENT: &str = "event";
    pub const ONSET_DATE: &str = "onset_date";
    // products
    pub const NAME: &str = "name";
    pub const INNOVATIVE: &str = "innovative";
    pub const CONDITIONAL: &str = "conditional";
    pub const PROCURED: &str = "procured";
    pub const APPROVAL_DATE: &str = "approval_date";
    pub const HOLDER: &str = "holder";
    // populations
    pub const YEAR: &str = "year";
    pub const POPULATION: &str = "population";
    // event_terms
    pub const SOC: &str = "soc";
    /// The MedDRA PT (or LLT: it rolls up) an event maps to, as a code or a name.
    pub const PT: &str = "pt";
    /// The version of the user's mapping table (e.g. `legacy-2024`).
    pub const TERM_VERSION: &str = "term_version";
    // signals.parquet, with `[terms]` or `signals.levels` (`level` as in rates)
    /// The name of a signal row's event group: PT, HLT, HLGT, SOC or SMQ name, or the
    /// raw term when it maps to no PT.
    pub const EVENT_NAME: &str = "event_name";
    /// Whether the row's event maps to a PT (false: the raw term, counted as it came).
    pub const TERM_MAPPED: &str = "term_mapped";

    /// The input line (CSV: 1-based, header = line 1) or row (Parquet: 1-based) of a row.
    /// Internal: never written to an output table.
    pub const LINE: &str = "__line";
    /// Internal: the earliest received_date among the versions of a case.
    pub const FIRST_RECEIVED: &str = "__first_received";
    /// Internal: how many versions of a case were received (as of the run's cut-off).
    pub const VERSIONS: &str = "__versions";
    /// Internal: a case's integer key (its row in ingest's `cases`, `IdxSize`), which
    /// `case_products` and `case_events` carry instead of the case_id text.
    pub const CASE_KEY: &str = "__case";

    // rates.parquet
    pub const PERIOD: &str = "period";
    pub const PERIOD_START: &str = "period_start";
    pub const PERIOD_END: &str = "period_end";
    pub const LEVEL: &str = "level";
    pub const REGION_NAME: &str = "region_name";
    pub const PROVINCE: &str = "province";
    pub const REPORTS: &str = "reports";
    pub const POPULATION_YEAR: &str = "population_year";
    pub const COVERED_DAYS: &str = "covered_days";
    pub const PERIOD_COMPLETE: &str = "period_complete";
    pub const PER_MILLION: &str = "per_million";
    pub const ANNUALIZED_PER_MILLION: &str = "annualized_per_million";
    pub const TARGET_PER_MILLION: &str = "target_per_million";
    pub const ATTAINMENT: &str = "attainment";
    pub const ON_TRACK: &str = "on_track";
    pub const NEW_OR_SERIOUS: &str = "new_or_serious";
    pub const SERIOUS: &str = "serious";
    pub const FATAL_REPORTS: &str = "fatal";
    pub const NEW_OR_SERIOUS_SHARE: &str = "new_or_serious_share";
    pub const SERIOUS_SHARE: &str = "serious_share";
    pub const SENTINEL_REPORTS: &str = "sentinel_reports";
    pub const SENTINEL_NEW_OR_SERIOUS: &str = "sentinel_new_or_serious";
    pub const SENTINEL_SERIOUS: &str = "sentinel_serious";
    pub const SENTINEL_NEW_OR_SERIOUS_SHARE: &str = "sentinel_new_or_serious_share";
    pub const SENTINEL_SERIOUS_SHARE: &str = "sentinel_serious_share";
    pub const NEW_OR_SERIOUS_TARGET: &str = "new_or_serious_target";
    pub const SERIOUS_TARGET: &str = "serious_target";
    pub const NEW_OR_SERIOUS_MET: &str = "new_or_serious_met";
    pub const SERIOUS_MET: &str = "serious_met";
    pub const SENTINEL_NEW_OR_SERIOUS_MET: &str = "sentinel_new_or_serious_met";
    pub const SENTINEL_SERIOUS_MET: &str = "sentinel_serious_met";
    pub const NULL_REASON: &str = "null_reason";

    // screening.parquet (上市后风险排查清单)
    pub const CASES: &str = "cases";
    pub const SERIOUS_CASES: &str = "serious_cases";
    pub const FATAL_CASES: &str = "fatal_cases";
    pub const CUMULATIVE_CASES: &str = "cumulative_cases";
    pub const SIGNALS: &str = "signals";
    pub const SIGNAL_EVENTS: &str = "signal_events";
    pub const OPEN_ALERTS: &str = "open_alerts";
    pub const P0_ALERTS: &str = "p0_alerts";
    pub const PREVIOUS_PERIOD: &str = "previous_period";
    pub const PREVIOUS_CASES: &str = "previous_cases";
    pub const CASES_CHANGE: &str = "cases_change";
    pub const PREVIOUS_SIGNALS: &str = "previous_signals";
    pub const SIGNALS_CHANGE: &str = "signals_change";
    pub const TREND: &str = "trend";

    // rejects.csv
    pub const FILE: &str = "file";
    pub const LINE_NUMBER: &str = "line";
    pub const COLUMN: &str = "column";
    pub const FOUND: &str = "found";
    pub const EXPECTED: &str = "expected";
    pub const TABLE: &str = "table";
    pub const ACTION: &str = "action";
    /// Converted products (flat exports): the approval number (批准文号).
    pub const APPROVAL_NUMBER: &str = "approval_number";
    /// rejects.csv: a spreadsheet input's cell, as Excel names it (`Sheet1!C17`).
    pub const CELL: &str = "cell";

    // cases.parquet (one row per case; `case_id`, `report_id`, `version`, `class`,
    // `region`, `province`, `sex`, `age_years`, `reporter_type`, the flags and `period`
    // reuse the constants above)
    pub const VERSIONS_RECEIVED: &str = "versions_received";
    pub const FIRST_RECEIVED_DATE: &str = "first_received";
    pub const LATEST_RECEIVED_DATE: &str = "latest_received";
    pub const CITY: &str = "city";
    pub const AGE_BAND: &str = "age_band";
    pub const SUSPECT_PRODUCTS: &str = "suspect_products";
    pub const EVENTS: &str = "events";
    pub const BATCHES: &str = "batches";
    pub const IN_PERIOD: &str = "in_period";
    pub const COMPLETENESS: &str = "completeness";
    pub const WELL_DOCUMENTED: &str = "well_documented";
    /// case_versions.parquet: a version that a later one of its case replaced.
    pub const SUPERSEDED: &str = "superseded";
    /// rates.parquet: the share of `reports` that are well documented.
    pub const WELL_DOCUMENTED_SHARE: &str = "well_documented_share";
}

/// Product classes: which monitoring system a report belongs to.
pub const CLASSES: &[&str] = &["drug", "device", "cosmetic"];
/// Reporter types (报告单位类别).
pub const REPORTER_TYPES: &[&str] = &[
    "medical_institution",
    "mah",
    "distributor",
    "individual",
    "other",
];
/// Roles of a product in a report.
pub const ROLES: &[&str] = &["suspect", "concomitant", "interacting"];
/// The roles whose products count: suspect and interacting. Concomitant products never
/// count, in any statistic or alert: ingest keeps only `report_products` rows in these
/// roles in `case_products` (it still accounts for every row read).
pub const COUNTED_ROLES: [&str; 2] = ["suspect", "interacting"];
/// Sex codes.
pub const SEXES: &[&str] = &["M", "F", "U"];

/// The header of `rejects.csv`, in order.
pub const REJECTS_HEADER: &[&str] = &[
    col::TABLE,
    col::FILE,
    col::LINE_NUMBER,
    col::COLUMN,
    col::FOUND,
    col::EXPECTED,
    col::ACTION,
    col::CELL,
];

/// What a cell must hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Any non-empty UTF-8 text (trimmed).
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// `true/false`, `1/0`, `yes/no`, `是/否` (English forms case-insensitive).
    Bool,
    /// A whole number in `[min, max]`.
    Int { min: i64, max: i64 },
    /// A finite number in `[min, max]`.
    Float { min: f64, max: f64 },
    /// One of the listed values (matched case-insensitively, stored as listed).
    Enum(&'static [&'static str]),
    /// A 6-digit GB/T 2260 administrative division code with a valid province prefix.
    Region,
}

impl Kind {
    /// The "expected" text of a reject or error message.
    pub fn expected(&self) -> String {
        match self {
            Kind::Text => "a non-empty value".to_string(),
            Kind::Date => "a date YYYY-MM-DD".to_string(),
            Kind::Bool => "a boolean (true/false, 1/0, yes/no, 是/否)".to_string(),
            Kind::Int { min, max } if *max == i64::MAX => format!("an integer >= {min}"),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Float { min, max } => format!("a number from {min} to {max}"),
            Kind::Enum(values) => {
                let list: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                format!("one of {}", list.join(", "))
            }
            Kind::Region => "a 6-digit GB/T 2260 region code".to_string(),
        }
    }
}

/// One column of an input table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: false,
    }
}

/// An input table: its key in the pipeline's `[inputs]` and its columns.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [ColumnSpec],
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const AGE: Kind = Kind::Float {
    min: 0.0,
    max: 150.0,
};

pub const REPORTS: TableSpec = TableSpec {
    name: "reports",
    columns: &[
        req(col::REPORT_ID, Kind::Text),
        opt(col::CASE_ID, Kind::Text),
        opt(
            col::VERSION,
            Kind::Int {
                min: 1,
                max: i64::MAX,
            },
        ),
        req(col::RECEIVED_DATE, Kind::Date),
        req(col::CLASS, Kind::Enum(CLASSES)),
        req(col::REGION, Kind::Region),
        opt(col::REPORTER_TYPE, Kind::Enum(REPORTER_TYPES)),
        opt(col::SENTINEL, Kind::Bool),
        opt(col::IS_NEW, Kind::Bool),
        opt(col::IS_SERIOUS, Kind::Bool),
        opt(col::FATAL, Kind::Bool),
        opt(col::SEX, Kind::Enum(SEXES)),
        opt(col::AGE_YEARS, AGE),
    ],
};

pub const REPORT_PRODUCTS: TableSpec = TableSpec {
    name: "report_products",
    columns: &[
        req(col::REPORT_ID, Kind::Text),
        req(col::PRODUCT_ID, Kind::Text),
        opt(col::ROLE, Kind::Enum(ROLES)),
        opt(col::BATCH, Kind::Text),
    ],
};

pub const REPORT_EVENTS: TableSpec = TableSpec {
    name: "report_events",
    columns: &[
        req(col::REPORT_ID, Kind::Text),
        req(col::EVENT, Kind::Text),
        opt(col::ONSET_DATE, Kind::Date),
    ],
};

pub const PRODUCTS: TableSpec = TableSpec {
    name: "products",
    columns: &[
        req(col::PRODUCT_ID, Kind::Text),
        req(col::NAME, Kind::Text),
        req(col::CLASS, Kind::Enum(CLASSES)),
        opt(col::INNOVATIVE, Kind::Bool),
        opt(col::CONDITIONAL, Kind::Bool),
        opt(col::PROCURED, Kind::Bool),
        opt(col::APPROVAL_DATE, Kind::Date),
        opt(col::HOLDER, Kind::Text),
    ],
};

pub const POPULATIONS: TableSpec = TableSpec {
    name: "populations",
    columns: &[
        req(col::REGION, Kind::Region),
        req(
            col::YEAR,
            Kind::Int {
                min: 1900,
                max: 2200,
            },
        ),
        req(
            col::POPULATION,
            Kind::Int {
                min: 1,
                max: i64::MAX,
            },
        ),
        opt(col::NAME, Kind::Text),
    ],
};

pub const EVENT_TERMS: TableSpec = TableSpec {
    name: "event_terms",
    columns: &[
        req(col::EVENT, Kind::Text),
        opt(col::SOC, Kind::Text),
        opt(col::PT, Kind::Text),
        opt(col::TERM_VERSION, Kind::Text),
    ],
};

/// Valid first two digits of a GB/T 2260 code: the 31 provinces, Taiwan, Hong Kong, Macao.
pub const PROVINCE_PREFIXES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// Whether `s` is a 6-digit code with a valid province prefix.
pub fn is_region_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && PROVINCE_PREFIXES.contains(&&s[..2])
}

/// The province of a region code: its first two digits and `0000`.
pub fn province_of(region: &str) -> String {
    format!("{}0000", &region[..2])
}

/// The prefecture-level city of a region code: its first four digits and `00`.
pub fn city_of(region: &str) -> String {
    format!("{}00", &region[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        assert!(is_region_code("330100"));
        assert!(is_region_code("310115"));
        assert!(!is_region_code("33010"));
        assert!(!is_region_code("3301000"));
        assert!(!is_region_code("99010a"));
        assert!(!is_region_code("000000"), "no province has prefix 00");
        assert_eq!(province_of("330106"), "330000");
        assert_eq!(city_of("330106"), "330100");
    }

    #[test]
    fn every_table_has_unique_column_names() {
        for t in [
            REPORTS,
            REPORT_PRODUCTS,
            REPORT_EVENTS,
            PRODUCTS,
            POPULATIONS,
            EVENT_TERMS,
        ] {
            let mut names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "duplicate column in {}", t.name);
        }
    }

    #[test]
    fn expected_texts() {
        assert_eq!(
            Kind::Int {
                min: 1,
                max: i64::MAX
            }
            .expected(),
            "an integer >= 1"
        );
        assert_eq!(
            Kind::Enum(CLASSES).expected(),
            "one of `drug`, `device`, `cosmetic`"
        );
    }
}
