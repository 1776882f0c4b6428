-- "Your requests" and the requester filter match chat usernames
-- case-insensitively; index the lowered name so they do not scan.
CREATE INDEX requests_requester_name_lower ON requests (LOWER(requester_name), created_at DESC);
CREATE INDEX requests_sponsor_name_lower ON requests (LOWER(sponsor_name));
