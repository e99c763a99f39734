// SPDX-License-Identifier: MIT
// Node's own clients for the interoperability matrix: `node interop_node.js http|http2 PORT FILE`
// reads a JSON list of requests ({method, path, headers, body: base64}) from FILE, sends them one
// after another over one keep-alive HTTP/1.1 agent or one h2c (prior knowledge) session, and
// prints a JSON list of answers ({status, headers, body: base64} or {error}).
'use strict';
const fs = require('fs');
const http = require('http');
const http2 = require('http2');

const [mode, port, file] = process.argv.slice(2);
const requests = JSON.parse(fs.readFileSync(file, 'utf8'));
const TIMEOUT_MS = 20000;

function viaHttp1(agent, req) {
  return new Promise((resolve) => {
    const body = Buffer.from(req.body || '', 'base64');
    const headers = Object.assign({}, req.headers);
    if (req.body !== null) headers['content-length'] = body.length;
    const r = http.request({host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent,
                            timeout: TIMEOUT_MS}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers,
                                   body: Buffer.concat(chunks).toString('base64')}));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (e) => resolve({error: String(e)}));
    r.end(req.body !== null ? body : undefined);
  });
}

function viaHttp2(session, req) {
  return new Promise((resolve) => {
    const headers = Object.assign({':method': req.method, ':path': req.path}, req.headers);
    const hasBody = req.body !== null;
    const stream = session.request(headers, {endStream: !hasBody});
    stream.setTimeout(TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    let status = 0;
    let got = {};
    const chunks = [];
    stream.on('response', (h) => {
      status = h[':status'];
      got = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')));
    });
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve({status, headers: got, body: Buffer.concat(chunks).toString('base64')}));
    stream.on('error', (e) => resolve({error: String(e)}));
    if (hasBody) stream.end(Buffer.from(req.body, 'base64'));
  });
}

async function main() {
  const out = [];
  if (mode === 'http') {
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    for (const req of requests) out.push(await viaHttp1(agent, req));
    agent.destroy();
  } else {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    for (const req of requests) out.push(await viaHttp2(session, req));
    session.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main();
