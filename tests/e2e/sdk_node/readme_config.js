#!/usr/bin/env node
// The Node SDK configured exactly as the README shows (nothing else): uploadFile of FILE
// (multipart above 1 MB) and getObject back. Prints {"etag", "md5"} on success; exits 1 on error.
//   PORT=9600 SECRET_ID=... SECRET_KEY=... BUCKET=b-1250000000 FILE=/tmp/big.mp4 node readme_config.js
'use strict';

const crypto = require('crypto');
const COS = require('cos-nodejs-sdk-v5');

const { PORT, SECRET_ID, SECRET_KEY, BUCKET, FILE } = process.env;
const cos = new COS({ SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Ip: `127.0.0.1:${PORT}` });
const where = { Bucket: BUCKET, Region: 'ap-guangzhou', Key: 'readme/video.mp4' };
const fail = (err) => {
  console.error(JSON.stringify(err));
  process.exit(1);
};

cos.uploadFile({ ...where, FilePath: FILE }, (err, up) => {
  if (err) fail(err);
  cos.getObject(where, (err2, got) => {
    if (err2) fail(err2);
    const md5 = crypto.createHash('md5').update(got.Body).digest('hex');
    console.log(JSON.stringify({ etag: up.ETag, md5 }));
  });
});
