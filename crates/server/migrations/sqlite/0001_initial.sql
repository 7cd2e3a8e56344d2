-- Accounts: a handle, a display name, device keys. No phone number, no e-mail, no contacts.
CREATE TABLE users (
    id           BLOB PRIMARY KEY,          -- random 128-bit
    handle       TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    invited_by   BLOB REFERENCES users(id), -- kept for invite-only servers, never shown to anyone
    created_ms   INTEGER NOT NULL
);

CREATE TABLE devices (
    id         BLOB PRIMARY KEY,            -- random 128-bit
    user_id    BLOB NOT NULL REFERENCES users(id),
    public_key BLOB NOT NULL UNIQUE,        -- Ed25519, 32 bytes
    added_ms   INTEGER NOT NULL
);
CREATE INDEX devices_by_user ON devices(user_id);

-- Keys that asked to join an account and wait for an existing device's approval.
CREATE TABLE pending_devices (
    user_id      BLOB NOT NULL REFERENCES users(id),
    public_key   BLOB NOT NULL,
    requested_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, public_key)
);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    created_by BLOB NOT NULL REFERENCES users(id),
    uses_left  INTEGER NOT NULL
);

-- MLS key packages: opaque bytes, each one-time package handed out once.
CREATE TABLE key_packages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   BLOB NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    data        BLOB NOT NULL,
    last_resort INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX key_packages_by_device ON key_packages(device_id, last_resort);

-- Per-group ordering: the epoch the next commit must build on, and a group-wide counter.
CREATE TABLE mls_groups (
    group_id BLOB PRIMARY KEY,
    epoch    INTEGER NOT NULL,
    next_seq INTEGER NOT NULL
);

-- Each device's mailbox: opaque ciphertext kept until the device acknowledges it.
CREATE TABLE mailbox (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id        BLOB NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    group_id         BLOB NOT NULL,
    sender_user      BLOB NOT NULL,
    sender_device    BLOB NOT NULL,
    kind             TEXT NOT NULL,
    epoch            INTEGER NOT NULL,
    payload          BLOB NOT NULL,
    sent_ms          INTEGER NOT NULL
);
CREATE INDEX mailbox_by_device ON mailbox(device_id, seq);

-- Idempotent sends: a resend with the same client message id gets the first answer.
CREATE TABLE mls_sends (
    sender_device BLOB NOT NULL,
    message_id    BLOB NOT NULL,
    group_seq     INTEGER NOT NULL,
    PRIMARY KEY (sender_device, message_id)
);
