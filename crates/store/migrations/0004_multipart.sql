-- CRC-64 of object bodies, and the multipart upload catalog.
--
-- CRC-64/XZ values are unsigned 64-bit; SQLite stores them as the signed INTEGER with the same
-- bits (the store converts both ways). NULL crc64 = an object stored before CRCs were recorded.
ALTER TABLE objects ADD COLUMN crc64 INTEGER;

-- One row per initiated, not yet completed or aborted, upload.
CREATE TABLE multipart_uploads (
    upload_id    TEXT PRIMARY KEY,
    bucket       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    user_meta    TEXT    NOT NULL,  -- JSON [[name, value], ...] in upload order, as objects
    initiated_ms INTEGER NOT NULL
);
-- ListMultipartUploads: (key, upload_id) byte order within a bucket.
CREATE UNIQUE INDEX multipart_uploads_list ON multipart_uploads (bucket, key, upload_id);
-- The reclaimer: uploads older than a cut-off.
CREATE INDEX multipart_uploads_age ON multipart_uploads (initiated_ms);

-- The latest upload of each part number; a re-upload replaces the row.
CREATE TABLE multipart_parts (
    upload_id        TEXT    NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number      INTEGER NOT NULL,
    blob_id          TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    md5_hex          TEXT    NOT NULL,
    crc64            INTEGER NOT NULL,  -- same bit-cast as objects.crc64
    last_modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
