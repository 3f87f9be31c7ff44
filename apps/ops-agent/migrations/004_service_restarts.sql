-- A service process's restart count (from the supervisor's state file) at the last audit: a larger value next
-- time means it crashed and was restarted in between, even when it is running again by then.
ALTER TABLE product_state ADD COLUMN last_restarts INTEGER;
