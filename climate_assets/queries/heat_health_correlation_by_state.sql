-- Heat-health correlation per state: Pearson correlation of daily maximum temperature with heat illness cases.
SELECT
    l.state,
    count(*) AS location_days,
    round(avg(c.temp_max_c), 2) AS avg_temp_max_c,
    sum(h.heat_illness_cases) AS heat_illness_cases,
    round(corr(c.temp_max_c, CAST(h.heat_illness_cases AS DOUBLE)), 3) AS heat_illness_correlation
FROM climate_health.climate_data AS c
JOIN climate_health.health_data AS h
    ON h.location_id = c.location_id AND h."date" = c."date"
JOIN climate_health.locations AS l ON l.location_id = c.location_id
GROUP BY l.state
ORDER BY l.state
