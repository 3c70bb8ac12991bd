-- The refunds of the bench case as one DuckDB query: what a finance analyst would write for this incident instead
-- of running hiwari. It yields exactly hiwari's lines (the ten fields) for the case scripts/bench/generate-case.ts
-- writes, and is meant for that shape only: calendar-day rule, actual days, floor rounding, no goodwill, billing on
-- the 1st (so periods are calendar months), one window per service. Anything else fails loudly (error()) rather
-- than giving other numbers.
--
-- Inputs are DuckDB variables, so the same text runs in the duckdb shell:
--   SET VARIABLE incident = 'incident.json'; SET VARIABLE subscriptions = 'subscriptions.csv';
-- The bench runs it as COPY (<this query>) TO 'out.jsonl' (FORMAT json).
--
-- The contract (refund-rules.md) as applied here:
-- * E = window ∩ [active_from, active_to): active_to is exclusive; a date-only value is local midnight in the
--   row's zone (time_zone, empty = the incident's); an instant carries its own offset.
-- * calendar-day: a local date counts when E overlaps it for a positive length, so with E = [s, e) the days run
--   from the local date of s to the local date of the last moment before e (an e at midnight adds no day).
-- * units = days counted in the period, basis = days in the period, amount = floor(fee × units / basis) in BIGINT
--   integer arithmetic (`//` truncates, which is floor for these non-negative values; no DOUBLE anywhere).
WITH incident AS (
  SELECT *
  FROM read_json(getvariable('incident'), columns = {
    timeZone: 'VARCHAR',
    policy: 'STRUCT("rule" VARCHAR, dayBasis VARCHAR, rounding VARCHAR)',
    suspensions: 'STRUCT(serviceCode VARCHAR, "start" VARCHAR, "end" VARCHAR)[]',
    goodwill: 'JSON'
  })
),
windows AS (
  SELECT
    CASE
      WHEN policy."rule" <> 'calendar-day' OR policy.dayBasis <> 'actual' OR policy.rounding <> 'floor'
        OR goodwill IS NOT NULL OR count(*) OVER (PARTITION BY w.serviceCode) > 1
      THEN error('duckdb-refunds.sql handles calendar-day, actual, floor, no goodwill, one window per service')
      ELSE w.serviceCode
    END AS service_code,
    timeZone AS incident_zone,
    w."start"::TIMESTAMPTZ AS w_start,
    w."end"::TIMESTAMPTZ AS w_end
  FROM (SELECT unnest(suspensions) AS w, * FROM incident)
),
subscriptions AS (
  SELECT *
  FROM read_csv(getvariable('subscriptions'), header = true, auto_detect = false, quote = '"', escape = '"',
    columns = {
      subscription_id: 'VARCHAR', subscriber_id: 'VARCHAR', service_code: 'VARCHAR', monthly_fee: 'BIGINT',
      currency: 'VARCHAR', active_from: 'VARCHAR', active_to: 'VARCHAR', time_zone: 'VARCHAR', billing_day: 'VARCHAR'
    })
),
-- E per row, as instants. An empty cell reads as NULL: active_to NULL = still active.
spans AS (
  SELECT s.*, zone,
    greatest(w_start, CASE WHEN length(active_from) = 10
      THEN timezone(zone, active_from::DATE::TIMESTAMP) ELSE active_from::TIMESTAMPTZ END) AS e_start,
    least(w_end, CASE WHEN active_to IS NULL THEN w_end WHEN length(active_to) = 10
      THEN timezone(zone, active_to::DATE::TIMESTAMP) ELSE active_to::TIMESTAMPTZ END) AS e_end
  FROM subscriptions s
  JOIN windows w USING (service_code),
  LATERAL (SELECT coalesce(s.time_zone, w.incident_zone) AS zone)
  WHERE CASE WHEN coalesce(billing_day, '1') = '1' THEN true ELSE error('billing_day must be 1 or empty') END
),
-- The first and last local dates E touches (whole seconds in, so 1 µs before e is within the last second).
days AS (
  SELECT *,
    timezone(zone, e_start)::DATE AS first_day,
    timezone(zone, e_end - INTERVAL 1 MICROSECOND)::DATE AS last_day
  FROM spans
  WHERE e_start < e_end
),
-- One row per calendar month (billing period) that E touches.
periods AS (
  SELECT *, (period_start + INTERVAL 1 MONTH)::DATE AS period_end
  FROM (
    SELECT *, unnest(generate_series(date_trunc('month', first_day), date_trunc('month', last_day),
      INTERVAL 1 MONTH))::DATE AS period_start
    FROM days
  )
)
SELECT
  subscription_id AS "subscriptionId",
  subscriber_id AS "subscriberId",
  service_code AS "serviceCode",
  period_start AS "periodStart",
  period_end AS "periodEnd",
  'day' AS "unit",
  units,
  basis,
  (monthly_fee * units) // basis AS amount,
  currency
FROM periods,
  LATERAL (SELECT
    least(last_day + 1, period_end) - greatest(first_day, period_start) AS units, -- never above basis
    period_end - period_start AS basis)
