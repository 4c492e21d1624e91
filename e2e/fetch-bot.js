// The "any language" bot: no SDK, no auth code, nothing but Node's http
// module and the global fetch. It replies to every message by POSTing to
// the activity's serviceUrl (the sidecar), and makes the two classic
// mistakes on purpose (docs/behaviour.md): the raw app id as `from`
// instead of the channel account, and a Web Chat serviceUrl in the body of
// a Teams reply. The sidecar must fix both.
//
// Driven by cmd/sidecar/e2e_test.go. Environment:
//   PORT            port to listen on (default 3980; 0 picks a free one)
//   HOST            address to listen on (default 127.0.0.1)
//   MicrosoftAppId  the raw app id it wrongly puts in `from`
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received.
'use strict';

const http = require('node:http');

const rawAppId = process.env.MicrosoftAppId || '00000000-0000-0000-0000-000000000000';
const received = [];

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

async function reply(activity, text) {
  const conv = activity.conversation;
  const url = `${activity.serviceUrl}v3/conversations/${encodeURIComponent(conv.id)}/activities/${activity.id}`;
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      type: 'message',
      from: { id: rawAppId }, // wrong on Teams: should be 28:<appId>
      serviceUrl: 'https://webchat.botframework.com/', // wrong: not this conversation's
      // No conversation, recipient or channelId: the sidecar fills them.
      replyToId: activity.id,
      text,
    }),
  });
  return { status: resp.status, body: await resp.text() };
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (path === '/api/received' && req.method === 'GET') {
    answer(res, 200, received);
    return;
  }
  if (path !== '/api/messages' || req.method !== 'POST') {
    answer(res, 404, { error: 'POST /api/messages' });
    return;
  }
  const raw = await readBody(req);
  received.push({ method: req.method, headers: req.headers, body: raw });
  let activity;
  try {
    activity = JSON.parse(raw);
  } catch (err) {
    answer(res, 400, { error: 'not JSON: ' + err.message });
    return;
  }
  if (activity.type !== 'message') {
    answer(res, 200, {});
    return;
  }
  try {
    // Reply before answering, so a failed reply shows in the inbound answer.
    const r = await reply(activity, 'echo: ' + activity.text);
    if (r.status < 200 || r.status > 299) {
      answer(res, 502, { error: 'reply failed', replyStatus: r.status, replyBody: r.body });
      return;
    }
    answer(res, 200, {});
  } catch (err) {
    console.error('fetch-bot: reply failed:', err);
    answer(res, 502, { error: 'reply failed: ' + err.message });
  }
});

server.listen(Number(process.env.PORT ?? 3980), process.env.HOST || '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}/api/messages`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
