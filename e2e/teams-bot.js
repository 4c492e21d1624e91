// A stock Teams SDK v2 bot (@microsoft/teams.apps, teams.ts) with no
// credentials, the way it runs behind the sidecar: an App with no CLIENT_ID
// or CLIENT_SECRET, so it attaches no token to what it sends, and with
// DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS=true in its environment, without
// which it answers every inbound request 401 ("Authentication not
// configured"). SERVICE_URL is the sidecar's outbound URL: the App's own API
// client (app.api, used outside a turn) goes there, as replies in a turn go
// to the activity's serviceUrl, which is the sidecar too.
//
// Driven by cmd/sidecar/e2e_teams_test.go. Environment, besides the two
// above:
//   PORT  port to listen on (default 3978; 0 picks a free one)
//   HOST  address to listen on (default 127.0.0.1)
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received (headers and
// raw body); GET /api/sent returns every HTTP request the SDK made (method,
// URL as sent on the wire, headers, JSON body).
//
// A message's text picks what the bot does, each the way the SDK's own
// docs do it:
//   "proactive…"  a send through the App's client (app.api, SERVICE_URL)
//                 naming only the conversation, as a notifier does later:
//                 the channel itself (channelData.channel.id) for a channel
//                 message, else the same conversation. app.send would be
//                 the one-liner, but it refuses an App with no app id
//                 ("App has no credentials set up");
//   "members…"    the turn's client: getPagedMembers and getMemberById of
//                 the conversation, then a reply that says how each went;
//   anything else is answered in the conversation as "echo: <text>".
'use strict';

const express = require('express');
const { App, ExpressAdapter } = require('@microsoft/teams.apps');

// Every request the SDK sends goes through its HTTP client's axios
// interceptors, the App's `client` option. getUri builds the URL the way
// axios's http adapter does before it writes the request line.
const sent = [];
const recorder = {
  request: ({ config }) => {
    const url = new URL(app.client.http.getUri(config));
    const headers = {};
    for (const [k, v] of Object.entries(config.headers.toJSON())) {
      headers[k.toLowerCase()] = String(v);
    }
    const body = config.data === undefined || typeof config.data === 'string' ? config.data : JSON.stringify(config.data);
    sent.push({ method: config.method.toUpperCase(), url: url.href, target: url.pathname + url.search, headers, body });
    return config;
  },
};

// The SDK's own Express adapter on an express app this file listens with:
// app.start(port) would listen on every interface, and a bot that takes
// unauthenticated requests must be reachable from loopback only. The JSON
// parser the adapter puts on its route (express.json()) runs once in front
// too, to record the raw body for GET /api/received; the adapter's then
// finds the body read and leaves req.body as parsed.
const received = [];
const web = express();
web.use(
  express.json({
    verify: (req, res, buf) => {
      received.push({ method: req.method, headers: req.headers, body: buf.toString('utf8') });
    },
  }),
);
web.get('/api/received', (req, res) => res.json(received));
web.get('/api/sent', (req, res) => res.json(sent));
const app = new App({ httpServerAdapter: new ExpressAdapter(web), client: { interceptors: [recorder] } });
if (app.id) {
  // The point of this bot is the no-credentials mode; a CLIENT_ID picked up
  // from the environment would make it a different bot.
  console.error('teams-bot: an app id is configured; this bot must run without credentials');
  process.exit(2);
}

// failure says what a refused call got, for the reply and the log, so a
// failing test says why: the SDK's HTTP client is axios, whose error
// carries the status and body the sidecar answered.
function failure(err) {
  const res = err && err.response;
  if (!res) {
    return `error ${(err && err.message) || err}`;
  }
  return `error ${res.status} ${JSON.stringify(res.data)} (${String(err.config.method).toUpperCase()} ${err.config.url})`;
}

app.on('message', async ({ activity, api, send }) => {
  const text = activity.text || '';
  const conversationId = activity.conversation.id;
  if (text.startsWith('proactive')) {
    const channel = activity.channelData && activity.channelData.channel;
    const target = channel ? channel.id : conversationId;
    await app.api.conversations.createActivity(target, { type: 'message', text: 'proactive: ' + text });
  } else if (text.startsWith('members')) {
    // One after the other, in this order: the test scripts the answers.
    const reads = {
      pagedMembers: () => api.conversations.getPagedMembers(conversationId, 50),
      member: () => api.conversations.getMemberById(conversationId, activity.from.id),
    };
    const said = [];
    for (const [name, read] of Object.entries(reads)) {
      said.push(await read().then(() => `${name}: ok`, (err) => `${name}: ${failure(err)}`));
    }
    await send(said.join('; '));
  } else {
    await send('echo: ' + text);
  }
});

// The SDK reports a failed turn as an error event and answers 500; print
// it, the test shows the bot's stderr when it fails.
app.event('error', ({ error }) => {
  console.error('teams-bot: turn failed:', failure(error));
});

// initialize registers POST /api/messages on the adapter; then this file
// listens, on HOST and PORT.
app.initialize().then(
  () => {
    const server = web.listen(Number(process.env.PORT ?? 3978), process.env.HOST || '127.0.0.1', () => {
      const { address, port } = server.address();
      console.log(`listening on http://${address}:${port}/api/messages`);
    });
    for (const sig of ['SIGTERM', 'SIGINT']) {
      process.on(sig, () => server.close(() => process.exit(0)));
    }
  },
  (err) => {
    console.error('teams-bot: initialize failed:', err);
    process.exit(1);
  },
);
