-- Hospitals under pressure: location-days whose hospital beds are at least 85% occupied, fullest first.
SELECT
    h."date",
    h.location_id,
    l.name,
    l.state,
    h.hospital_count,
    h.total_beds,
    h.beds_available,
    round(h.occupancy_rate, 3) AS occupancy_rate,
    h.capacity_score
FROM climate_health.hospital_resources AS h
JOIN climate_health.locations AS l ON l.location_id = h.location_id
WHERE h.occupancy_rate >= 0.85
ORDER BY h.occupancy_rate DESC, h."date", h.location_id
