-- healthchecks' keyword filtering fields. CronPing classifies plain success pings by their HTTP body when
-- filter_body is on (healthchecks does so for email pings); filter_subject is stored and returned for
-- healthchecks' clients, but HTTP pings have no subject line.
ALTER TABLE checks ADD COLUMN filter_subject INTEGER NOT NULL DEFAULT 0 CHECK (filter_subject IN (0, 1));
ALTER TABLE checks ADD COLUMN filter_body INTEGER NOT NULL DEFAULT 0 CHECK (filter_body IN (0, 1));
ALTER TABLE checks ADD COLUMN start_kw TEXT NOT NULL DEFAULT '';
ALTER TABLE checks ADD COLUMN success_kw TEXT NOT NULL DEFAULT '';
ALTER TABLE checks ADD COLUMN failure_kw TEXT NOT NULL DEFAULT '';
