#!/usr/bin/env node
// Smoke test of reelflow with the official Node.js SDK (npm `cos-nodejs-sdk-v5`, pinned in
// package.json). Run by tests/e2e/test_sdk_compat.py::test_sdk_node_smoke; by hand:
//
//   PORT=9600 SECRET_ID=... SECRET_KEY=... BUCKET=smoke-1250000000 node smoke.js
//
// How the SDK reaches a loopback server (cos-nodejs-sdk-v5 3.0.0, sdk/base.js):
// - `ForcePathStyle` throws ("path-style is no longer supported").
// - `Domain: '127.0.0.1:PORT'` sends every request to that host *without the bucket*; reelflow
//   then reads the bucket from the first path segment (path-style for IP hosts), so object calls
//   work if the bucket is written into the Key (`<bucket>/<key>`). CI calls cannot work that way:
//   their resource is the first path segment.
// - `Ip: '127.0.0.1:PORT'` keeps the normal virtual-hosted URL
//   (`http://<bucket>.cos.<region>.myqcloud.com/<key>`, or the `.ci.` URL given to
//   `cos.request`), connects to the given address instead and sends the virtual host in `Host`,
//   which is also what the SDK signs. That is the SDK's counterpart of the Python SDK's
//   `IP=`/`Port=` mode, and it works for object and CI calls alike: it is the main mode here.
//
// Output: one JSON document on stdout with what every step observed (the pytest wrapper asserts
// on it); exit code 0 unless the script itself broke. A failing step is recorded as
// {"error": {...}} rather than aborting, so one report shows every step.
'use strict';

const COS = require('cos-nodejs-sdk-v5');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`smoke.js: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
};

const PORT = env('PORT');
const SECRET_ID = env('SECRET_ID');
const SECRET_KEY = env('SECRET_KEY');
const BUCKET = env('BUCKET');
const REGION = process.env.REGION || 'ap-guangzhou';
const CI_BASE = `http://${BUCKET}.ci.${REGION}.myqcloud.com`;

const common = {
  SecretId: SECRET_ID,
  SecretKey: SECRET_KEY,
  Protocol: 'http:',
  Timeout: 30000,
  AutoSwitchHost: false, // no retry against Tencent's backup domain
  CorrectClockSkew: false,
  KeepAlive: false,
};

// Virtual-hosted URLs, connected to the loopback server.
const cos = new COS({ ...common, Ip: `127.0.0.1:${PORT}` });
// Path-style through Domain: the bucket travels as the first segment of the Key.
const cosPath = new COS({ ...common, Domain: `127.0.0.1:${PORT}` });

const call = (client, method, params) =>
  new Promise((resolve) => {
    client[method](params, (err, data) => {
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

const headersOf = (data) => {
  const out = {};
  for (const [k, v] of Object.entries((data && data.headers) || {})) out[k.toLowerCase()] = v;
  return out;
};

const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

async function main() {
  const report = { sdkVersion: require('cos-nodejs-sdk-v5/package.json').version, bucket: BUCKET, steps: {} };
  const steps = report.steps;
  const key = 'node/hello.txt';
  const body = 'hello from cos-nodejs-sdk-v5\n';

  // --- object API, virtual-hosted ---------------------------------------------------------
  let r = await call(cos, 'putBucket', { Bucket: BUCKET, Region: REGION });
  steps.putBucket = r.error ? r : { statusCode: r.data.statusCode };

  r = await call(cos, 'headBucket', { Bucket: BUCKET, Region: REGION });
  steps.headBucket = r.error ? r : { statusCode: r.data.statusCode };

  r = await call(cos, 'putObject', {
    Bucket: BUCKET,
    Region: REGION,
    Key: key,
    Body: Buffer.from(body),
    ContentType: 'text/plain',
    Headers: { 'x-cos-meta-origin': 'node-smoke' },
  });
  steps.putObject = r.error ? r : { statusCode: r.data.statusCode, etag: r.data.ETag || headersOf(r.data).etag || null };

  r = await call(cos, 'headObject', { Bucket: BUCKET, Region: REGION, Key: key });
  if (r.error) {
    steps.headObject = r;
  } else {
    const h = headersOf(r.data);
    steps.headObject = {
      statusCode: r.data.statusCode,
      contentLength: h['content-length'] || null,
      contentType: h['content-type'] || null,
      etag: h.etag || null,
      metaOrigin: h['x-cos-meta-origin'] || null,
    };
  }

  r = await call(cos, 'getObject', { Bucket: BUCKET, Region: REGION, Key: key });
  steps.getObject = r.error ? r : { statusCode: r.data.statusCode, body: r.data.Body ? r.data.Body.toString() : null };

  r = await call(cos, 'getObject', { Bucket: BUCKET, Region: REGION, Key: key, Range: 'bytes=0-4' });
  steps.getObjectRange = r.error ? r : { statusCode: r.data.statusCode, body: r.data.Body ? r.data.Body.toString() : null };

  r = await call(cos, 'getBucket', { Bucket: BUCKET, Region: REGION, Prefix: 'node/' });
  steps.getBucket = r.error ? r : { statusCode: r.data.statusCode, keys: asList(r.data.Contents).map((c) => c.Key) };

  r = await call(cos, 'getObject', { Bucket: BUCKET, Region: REGION, Key: 'node/missing.txt' });
  steps.getMissingObject = r.error ? r : { unexpected: 'getObject of a missing key succeeded', statusCode: r.data.statusCode };

  // --- object API, path-style through Domain ------------------------------------------------
  const pathKey = 'node/path-style.txt';
  r = await call(cosPath, 'putObject', {
    Bucket: BUCKET,
    Region: REGION,
    Key: `${BUCKET}/${pathKey}`,
    Body: Buffer.from('path-style\n'),
  });
  steps.pathStylePutObject = r.error ? r : { statusCode: r.data.statusCode };
  r = await call(cos, 'getObject', { Bucket: BUCKET, Region: REGION, Key: pathKey });
  steps.pathStyleReadBack = r.error ? r : { statusCode: r.data.statusCode, body: r.data.Body ? r.data.Body.toString() : null };

  // --- CI API through cos.request (the JS demos' way: Url on the .ci. host) ----------------
  const tplXml =
    '<Request><Tag>Transcode</Tag><Name>node-smoke</Name>' +
    '<Container><Format>mp4</Format></Container>' +
    '<Video><Codec>H.264</Codec><Width>256</Width><Height>144</Height><Crf>30</Crf></Video>' +
    '<Audio><Codec>aac</Codec><Bitrate>64</Bitrate></Audio></Request>';
  r = await call(cos, 'request', {
    Bucket: BUCKET,
    Region: REGION,
    Method: 'POST',
    Url: `${CI_BASE}/template`,
    Key: 'template',
    Headers: { 'Content-Type': 'application/xml' },
    Body: tplXml,
  });
  let templateId = null;
  if (r.error) {
    steps.ciCreateTemplate = r;
  } else {
    const tpl = (r.data.Response || {}).Template || {};
    templateId = tpl.TemplateId || null;
    steps.ciCreateTemplate = {
      statusCode: r.data.statusCode,
      requestIdHeader: headersOf(r.data)['x-ci-request-id'] || null,
      template: tpl,
    };
  }

  r = await call(cos, 'request', {
    Bucket: BUCKET,
    Region: REGION,
    Method: 'GET',
    Url: `${CI_BASE}/template`,
    Key: 'template',
    Query: { ids: templateId || '', pageNumber: '1', pageSize: '10' },
  });
  steps.ciListTemplates = r.error
    ? r
    : {
        statusCode: r.data.statusCode,
        totalCount: (r.data.Response || {}).TotalCount,
        templates: asList((r.data.Response || {}).TemplateList).map((t) => ({ TemplateId: t.TemplateId, Name: t.Name, Tag: t.Tag })),
      };

  // A workflow list call on the .cos. host (what the Python SDK uses for CI calls).
  r = await call(cos, 'request', {
    Bucket: BUCKET,
    Region: REGION,
    Method: 'GET',
    Key: 'workflow',
    Query: { ids: '', name: '', pageNumber: '', pageSize: '' },
  });
  steps.ciListWorkflows = r.error
    ? r
    : { statusCode: r.data.statusCode, totalCount: (r.data.Response || {}).TotalCount, hasRequestId: !!(r.data.Response || {}).RequestId };

  // A CI error: an execution that does not exist.
  r = await call(cos, 'request', {
    Bucket: BUCKET,
    Region: REGION,
    Method: 'GET',
    Url: `${CI_BASE}/workflowexecution/i00000000000000000000000000000000`,
    Key: 'workflowexecution/i00000000000000000000000000000000',
  });
  steps.ciMissingExecution = r.error ? r : { unexpected: 'GET of an unknown execution succeeded', statusCode: r.data.statusCode };

  if (templateId) {
    r = await call(cos, 'request', {
      Bucket: BUCKET,
      Region: REGION,
      Method: 'DELETE',
      Url: `${CI_BASE}/template/${templateId}`,
      Key: `template/${templateId}`,
    });
    steps.ciDeleteTemplate = r.error
      ? r
      : { statusCode: r.data.statusCode, templateId: (r.data.Response || {}).TemplateId || null };
  }

  // --- clean up -----------------------------------------------------------------------------
  r = await call(cos, 'deleteObject', { Bucket: BUCKET, Region: REGION, Key: key });
  steps.deleteObject = r.error ? r : { statusCode: r.data.statusCode };
  r = await call(cos, 'headObject', { Bucket: BUCKET, Region: REGION, Key: key });
  steps.headDeletedObject = r.error ? r : { unexpected: 'headObject after delete succeeded', statusCode: r.data.statusCode };

  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
