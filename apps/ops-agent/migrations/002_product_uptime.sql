-- The product's own process uptime at the last audit: a smaller value next time means it restarted.
ALTER TABLE product_state ADD COLUMN last_uptime_seconds REAL;
