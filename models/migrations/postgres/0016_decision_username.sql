-- The decider's chat username on each decision (postgres).
--
-- Reminders go to approvers who have not decided yet; approvers are found
-- by Mattermost username, while a decision names the IdP subject and the
-- display name. The username the portal knew at decision time (lower case,
-- empty for decisions made before this column) closes that gap.
ALTER TABLE decisions ADD COLUMN approver_username TEXT NOT NULL DEFAULT '';
