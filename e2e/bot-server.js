// The HTTP side the e2e bots share: a plain Node http server on loopback
// with POST /api/messages and GET /api/received, the express-like request
// and response the SDK adapters want, and the start-up line the Go tests
// wait for. Each bot supplies only what it does with an activity.
'use strict';

const http = require('node:http');

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

// shimResponse is what express and restify hand an adapter, over Node's
// response: botbuilder's CloudAdapter checks that status(), header(),
// send() and end() are functions; the Agents SDK's also uses setHeader(),
// headersSent and writableEnded.
function shimResponse(res) {
  return {
    socket: res.socket,
    get headersSent() {
      return res.headersSent;
    },
    get writableEnded() {
      return res.writableEnded;
    },
    status(code) {
      res.statusCode = code;
      return this;
    },
    header(name, value) {
      res.setHeader(name, value);
      return this;
    },
    setHeader(name, value) {
      res.setHeader(name, value);
      return this;
    },
    send(body) {
      if (body === undefined || body === null) {
        return this;
      }
      if (Buffer.isBuffer(body) || typeof body === 'string') {
        res.write(body);
      } else {
        // express and restify serialise objects as JSON.
        if (!res.headersSent && !res.hasHeader('Content-Type')) {
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
        }
        res.write(JSON.stringify(body));
      }
      return this;
    },
    end() {
      if (!res.writableEnded) {
        res.end();
      }
      return this;
    },
  };
}

// serveBot starts the server. onMessage(req, res, body) handles POST
// /api/messages with the parsed JSON body (undefined when empty) after the
// raw request is recorded for GET /api/received; gets maps further GET
// paths to functions returning what to answer as JSON. Environment: PORT
// (default defaultPort; 0 picks a free one) and HOST (default 127.0.0.1).
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
function serveBot({ name, defaultPort, onMessage, gets = {} }) {
  const received = [];
  const routes = { '/api/received': () => received, ...gets };
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (req.method === 'GET' && routes[path]) {
      answer(res, 200, routes[path]());
      return;
    }
    if (path !== '/api/messages' || req.method !== 'POST') {
      answer(res, 404, { error: 'POST /api/messages' });
      return;
    }
    let raw;
    try {
      raw = await readBody(req);
    } catch (err) {
      answer(res, 400, { error: String(err) });
      return;
    }
    received.push({ method: req.method, headers: req.headers, body: raw });
    let body;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch (err) {
      answer(res, 400, { error: 'body is not JSON: ' + err.message });
      return;
    }
    try {
      await onMessage(req, res, body);
    } catch (err) {
      console.error(`${name}: process failed:`, err);
      if (!res.headersSent) {
        res.statusCode = 500;
      }
    }
    if (!res.writableEnded) {
      res.end();
    }
  });

  server.listen(Number(process.env.PORT ?? defaultPort), process.env.HOST || '127.0.0.1', () => {
    const { address, port } = server.address();
    console.log(`listening on http://${address}:${port}/api/messages`);
  });

  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => server.close(() => process.exit(0)));
  }
  return server;
}

module.exports = { answer, serveBot, shimResponse };
