-- The same schema as migrations/sqlite, in PostgreSQL's types.

-- Accounts: a handle, a display name, device keys. No phone number, no e-mail, no contacts.
CREATE TABLE users (
    id           BYTEA PRIMARY KEY,          -- random 128-bit
    handle       TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    invited_by   BYTEA REFERENCES users(id), -- kept for invite-only servers, never shown to anyone
    created_ms   BIGINT NOT NULL
);

CREATE TABLE devices (
    id         BYTEA PRIMARY KEY,            -- random 128-bit
    user_id    BYTEA NOT NULL REFERENCES users(id),
    public_key BYTEA NOT NULL UNIQUE,        -- Ed25519, 32 bytes
    added_ms   BIGINT NOT NULL
);
CREATE INDEX devices_by_user ON devices(user_id);

-- Keys that asked to join an account and wait for an existing device's approval.
CREATE TABLE pending_devices (
    user_id      BYTEA NOT NULL REFERENCES users(id),
    public_key   BYTEA NOT NULL,
    requested_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, public_key)
);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    created_by BYTEA NOT NULL REFERENCES users(id),
    uses_left  BIGINT NOT NULL
);

-- MLS key packages: opaque bytes, each one-time package handed out once.
CREATE TABLE key_packages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   BYTEA NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    data        BYTEA NOT NULL,
    last_resort BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX key_packages_by_device ON key_packages(device_id, last_resort);

-- Per-group ordering: the epoch the next commit must build on, and a group-wide counter.
CREATE TABLE mls_groups (
    group_id BYTEA PRIMARY KEY,
    epoch    BIGINT NOT NULL,
    next_seq BIGINT NOT NULL
);

-- Each device's mailbox: opaque ciphertext kept until the device acknowledges it.
CREATE TABLE mailbox (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id     BYTEA NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    group_id      BYTEA NOT NULL,
    sender_user   BYTEA NOT NULL,
    sender_device BYTEA NOT NULL,
    kind          TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    payload       BYTEA NOT NULL,
    sent_ms       BIGINT NOT NULL
);
CREATE INDEX mailbox_by_device ON mailbox(device_id, seq);

-- Idempotent sends: a resend with the same client message id gets the first answer.
CREATE TABLE mls_sends (
    sender_device BYTEA NOT NULL,
    message_id    BYTEA NOT NULL,
    group_seq     BIGINT NOT NULL,
    PRIMARY KEY (sender_device, message_id)
);
