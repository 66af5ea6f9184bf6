-- Resilience by category over time: locations per resilience category and month, with the average score.
SELECT
    date_trunc('month', r."date") AS month,
    r.resilience_category,
    count(*) AS location_days,
    count(DISTINCT r.location_id) AS locations,
    round(avg(r.resilience_score), 2) AS avg_resilience_score
FROM climate_health.resilience_scores AS r
GROUP BY date_trunc('month', r."date"), r.resilience_category
ORDER BY 1, 2
