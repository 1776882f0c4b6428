-- Audit search: the lookups of an actor's and a channel's requests read
-- only the index. The search needs the ids of the requests someone made,
-- sponsors or that sit in a channel; with the id in the index those ids
-- come from the index alone instead of one table row per request (about
-- 900 random page reads for one person at 1,000,000 events). The columns
-- before id are the old ones, so the listings that used these indexes
-- still do.
DROP INDEX requests_requester;
CREATE INDEX requests_requester ON requests (requester_id, created_at DESC, id);
DROP INDEX requests_requester_name_lower;
CREATE INDEX requests_requester_name_lower ON requests (LOWER(requester_name), created_at DESC, id);
DROP INDEX requests_sponsor;
CREATE INDEX requests_sponsor ON requests (sponsor_id, id);
DROP INDEX requests_sponsor_name_lower;
CREATE INDEX requests_sponsor_name_lower ON requests (LOWER(sponsor_name), id);
DROP INDEX requests_channel;
CREATE INDEX requests_channel ON requests (channel_id, created_at DESC, id);
DROP INDEX requests_channel_name_lower;
CREATE INDEX requests_channel_name_lower ON requests (LOWER(channel_name), id);
