#!/usr/bin/env node
// Large transfers with the official Node.js SDK (npm `cos-nodejs-sdk-v5`, pinned in package.json):
// uploadFile (above SliceSize it is sliceUploadFile: list uploads, initiate, parts 3 at a time with
// Content-MD5, complete), sliceUploadFile with 5 MB chunks, headObject, getObject, downloadFile
// (ranged, parallel) and getBucket with paging. Run by tests/e2e/test_sdk_node_transfer.py; by hand:
//
//   PORT=9600 SECRET_ID=... SECRET_KEY=... BUCKET=xfer-1250000000 FILE=/tmp/big.mp4 WORKDIR=/tmp/w node transfer.js
//
// The client reaches the loopback server as in smoke.js (`Ip: 127.0.0.1:PORT`, virtual-hosted
// URLs and Host). Output: one JSON document on stdout with what every step observed; a failing
// step is recorded as {"error": {...}} and the script goes on, so one report shows every step.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const COS = require('cos-nodejs-sdk-v5');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`transfer.js: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
};

const PORT = env('PORT');
const BUCKET = env('BUCKET');
const FILE = env('FILE');
const WORKDIR = env('WORKDIR');
const REGION = process.env.REGION || 'ap-guangzhou';

const cos = new COS({
  SecretId: env('SECRET_ID'),
  SecretKey: env('SECRET_KEY'),
  Protocol: 'http:',
  Ip: `127.0.0.1:${PORT}`,
  Timeout: 120000,
  AutoSwitchHost: false,
  CorrectClockSkew: false,
  KeepAlive: false,
});

const call = (method, params) =>
  new Promise((resolve) => {
    cos[method]({ Bucket: BUCKET, Region: REGION, ...params }, (err, data) => {
      if (err) {
        resolve({
          error: {
            code: err.code || null,
            message: err.message || String(err),
            statusCode: err.statusCode || null,
            body: err.error || null,
          },
        });
      } else {
        resolve({ data });
      }
    });
  });

const md5 = (buf) => crypto.createHash('md5').update(buf).digest('hex');
const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const lowerHeaders = (data) => {
  const out = {};
  for (const [k, v] of Object.entries((data && data.headers) || {})) out[k.toLowerCase()] = v;
  return out;
};

async function main() {
  const report = { sdkVersion: require('cos-nodejs-sdk-v5/package.json').version, bucket: BUCKET, steps: {} };
  const steps = report.steps;

  let r = await call('putBucket', {});
  steps.putBucket = r.error ? r : { statusCode: r.data.statusCode };

  // uploadFile: 30 MB > SliceSize (1 MB default) → sliceUploadFile with 1 MB parts
  r = await call('uploadFile', { Key: 'node/upload-file.mp4', FilePath: FILE, onProgress: () => {} });
  steps.uploadFile = r.error ? r : { statusCode: r.data.statusCode, etag: r.data.ETag || null, location: r.data.Location || null };

  // sliceUploadFile directly, 5 MB chunks
  r = await call('sliceUploadFile', { Key: 'node/slice.mp4', FilePath: FILE, ChunkSize: 5 * 1024 * 1024 });
  steps.sliceUploadFile = r.error ? r : { statusCode: r.data.statusCode, etag: r.data.ETag || null };

  for (const key of ['node/upload-file.mp4', 'node/slice.mp4']) {
    r = await call('headObject', { Key: key });
    const h = r.error ? null : lowerHeaders(r.data);
    steps[`head:${key}`] = r.error
      ? r
      : { contentLength: h['content-length'] || null, etag: h.etag || null, crc64: h['x-cos-hash-crc64ecma'] || null };
  }

  r = await call('getObject', { Key: 'node/upload-file.mp4' });
  steps.getObject = r.error
    ? r
    : {
        statusCode: r.data.statusCode,
        length: r.data.Body ? r.data.Body.length : null,
        md5: r.data.Body ? md5(r.data.Body) : null,
        crc64: lowerHeaders(r.data)['x-cos-hash-crc64ecma'] || null,
      };

  r = await call('getObject', { Key: 'node/slice.mp4', Range: 'bytes=1048576-2097151' });
  steps.getObjectRange = r.error
    ? r
    : { statusCode: r.data.statusCode, length: r.data.Body ? r.data.Body.length : null, md5: r.data.Body ? md5(r.data.Body) : null };

  // downloadFile: HEAD, then parallel ranged GETs of 5 MB
  const out = path.join(WORKDIR, 'downloaded.mp4');
  r = await call('downloadFile', { Key: 'node/slice.mp4', FilePath: out, ChunkSize: 5 * 1024 * 1024, ParallelLimit: 3 });
  steps.downloadFile = r.error
    ? r
    : { statusCode: r.data.statusCode, md5: fs.existsSync(out) ? md5(fs.readFileSync(out)) : null };

  r = await call('getBucket', { Prefix: 'node/' });
  steps.getBucket = r.error
    ? r
    : { statusCode: r.data.statusCode, objects: asList(r.data.Contents).map((c) => ({ Key: c.Key, Size: c.Size, ETag: c.ETag })) };

  // paging: one key per page, following NextMarker
  const paged = [];
  let marker = '';
  for (let i = 0; i < 5; i++) {
    r = await call('getBucket', { Prefix: 'node/', MaxKeys: 1, Marker: marker });
    if (r.error) {
      steps.getBucketPaged = r;
      break;
    }
    paged.push({ keys: asList(r.data.Contents).map((c) => c.Key), isTruncated: r.data.IsTruncated, nextMarker: r.data.NextMarker || '' });
    if (r.data.IsTruncated !== 'true') break;
    marker = r.data.NextMarker || asList(r.data.Contents).slice(-1)[0].Key;
  }
  if (!steps.getBucketPaged) steps.getBucketPaged = { pages: paged };

  r = await call('multipartList', { Prefix: 'node/' });
  steps.multipartList = r.error ? r : { uploads: asList(r.data.Upload).map((u) => u.Key) };

  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
