-- The query an analyst would write instead of pvwatch: per-case a, b, c, d, expected, PRR
-- and ROR for every (class, product, event) over the benchmark's generated Parquet tables.
-- Run by `scripts/bench --vs-duckdb` (examples/bench) with DuckDB's Python package, after
-- replacing ${DATA} (the generated tables' folder), ${OUT} (the result file) and
-- ${PERIOD_END} (the period's last day), on 2 threads.
--
-- Same counting as pvwatch (DESIGN.md, "Signals"; src/signals/counts.rs): each case's
-- latest version received by the end of the period (highest version, default 1, then
-- latest received_date, then highest report_id; case_id defaults to report_id), the
-- class's background is all those cases, products count when suspect or interacting, and
-- a product or event listed twice in a case counts once. No validation, no strata, no
-- intervals, IC or EBGM.
SET threads = 2;
SET enable_progress_bar = false;

COPY (
    WITH r AS (
        SELECT report_id, coalesce(case_id, report_id) AS case_id,
               coalesce(version, 1) AS version, received_date, class
        FROM read_parquet('${DATA}/reports.parquet')
        WHERE received_date <= DATE '${PERIOD_END}'
    ),
    latest AS (
        SELECT report_id, case_id, class FROM r
        QUALIFY row_number() OVER (
            PARTITION BY case_id ORDER BY version DESC, received_date DESC, report_id DESC
        ) = 1
    ),
    p AS (
        SELECT DISTINCT l.case_id, l.class, rp.product_id
        FROM read_parquet('${DATA}/report_products.parquet') rp JOIN latest l USING (report_id)
        WHERE rp.role IN ('suspect', 'interacting') AND rp.product_id IS NOT NULL
    ),
    e AS (
        SELECT DISTINCT l.case_id, l.class, re.event
        FROM read_parquet('${DATA}/report_events.parquet') re JOIN latest l USING (report_id)
        WHERE re.event IS NOT NULL
    ),
    n AS (SELECT class, count(*) AS n FROM latest GROUP BY class),
    pm AS (SELECT class, product_id, count(*) AS ab FROM p GROUP BY class, product_id),
    em AS (SELECT class, event, count(*) AS ac FROM e GROUP BY class, event),
    pairs AS (
        SELECT p.class, p.product_id, e.event, count(*) AS a
        FROM p JOIN e USING (case_id, class)
        GROUP BY p.class, p.product_id, e.event
    ),
    cells AS (
        SELECT pairs.class, product_id, event, a, ab - a AS b, ac - a AS c,
               n - ab - ac + a AS d, n, ab::DOUBLE * ac / n AS expected
        FROM pairs JOIN pm USING (class, product_id) JOIN em USING (class, event)
             JOIN n USING (class)
    )
    SELECT *,
           (a / (a + b)::DOUBLE) / (c / (c + d)::DOUBLE) AS prr,
           (a::DOUBLE * d) / (b::DOUBLE * c) AS ror
    FROM cells
) TO '${OUT}' (FORMAT parquet);
