-- What replies through a channel are sent with: a GitHub token, a Slack bot token, an SMTP
-- password. Stored as core/SecretCipher stores it; written by admins, never answered.
alter table channels add column reply_secret text;
