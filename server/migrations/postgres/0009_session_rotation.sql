-- When a session was rotated away (its successor started): NULL while it is current. Rotation is
-- claimed by setting it, so of requests arriving at once with the same cookie exactly one starts
-- the successor (the others go on with the old token's minute of grace).
ALTER TABLE sessions ADD COLUMN rotated_at BIGINT;
