-- Rooms outlive a server restart: what is not about who is present right now.
CREATE TABLE rooms (
    id         BLOB PRIMARY KEY,            -- random 128-bit room id
    host       BLOB NOT NULL,               -- holder of the host seat
    title      TEXT NOT NULL,
    visibility TEXT NOT NULL,               -- public | unlisted | private
    invited    TEXT NOT NULL,               -- JSON array of hex user ids
    banned     TEXT NOT NULL,               -- JSON array of hex user ids
    updated_ms INTEGER NOT NULL
);
