-- The client's local store: what this profile must remember between runs.
-- Nothing secret lives here: device keys are in the OS keyring (or a 0600 key file).

-- Servers this profile has used, and the account it holds on each.
CREATE TABLE servers (
    url          TEXT PRIMARY KEY,
    handle       TEXT,
    user_id      TEXT,
    device_id    TEXT,
    display_name TEXT,
    last_used_ms INTEGER NOT NULL
);

-- Playback volume per person, in percent (0 to 200; 100 is unchanged).
CREATE TABLE volumes (
    server_url TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    percent    INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 200),
    PRIMARY KEY (server_url, user_id)
);

-- Free-form settings of the app (key/value).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The last MLS mailbox sequence this device acknowledged on a server: delivery resumes
-- after it on reconnect.
CREATE TABLE mls_cursors (
    server_url TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    last_acked INTEGER NOT NULL,
    PRIMARY KEY (server_url, device_id)
);
